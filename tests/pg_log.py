"""pg_log.py: reads the test session's PostgreSQL server log for ERROR lines that are always our bugs.

The suite's PostgreSQL (the `pg` fixture) logs to <dir>/server.log. Many server ERRORs are expected
there (a unique violation answered as 400, a CHECK refusing plaintext, a statement cancelled by a test
that kills a process), so only the patterns below fail a test: each one means a query or the statement
cache of common/db.c is wrong, whatever the test did.
"""
import os
import re

BUG_PATTERNS = (
    # the per-connection statement cache (common/db.c) lost track of what the session holds
    re.compile(r'ERROR:\s+prepared statement "[^"]*" (already exists|does not exist)'),
    # SQL we generate that PostgreSQL cannot parse or type
    re.compile(r"ERROR:\s+syntax error at or near"),
    re.compile(r"ERROR:\s+could not determine data type of parameter"),
    re.compile(r"ERROR:\s+bind message supplies \d+ parameters"),
)


def offset(path):
    """Current size of the log (where the next check starts)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def bug_lines(path, since=0, limit=20):
    """The log's lines from byte `since` on that match BUG_PATTERNS, each with the STATEMENT line that
    PostgreSQL writes after it (so the failure names the query). At most `limit` entries."""
    try:
        with open(path, "rb") as f:
            f.seek(since)
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    out = []
    for i, line in enumerate(lines):
        if any(p.search(line) for p in BUG_PATTERNS):
            nxt = lines[i + 1] if i + 1 < len(lines) and "STATEMENT:" in lines[i + 1] else ""
            out.append(line + ("\n    " + nxt.strip() if nxt else ""))
            if len(out) >= limit:
                break
    return out
