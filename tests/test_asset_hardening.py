"""test_asset_hardening.py: the asset-job findings of issue 8 as regression tests.
- roles (4): a delete / export / Merge import job checks, per app, the role the direct operation needs
  (ROMA.12001 reason otherwise), and export + import never copies a secret to a user who could not read it;
- amplification (7): entry, byte and reason caps of imports; the status reply stays small;
- validation (8): imported documents follow CreateRomaApp's rules; a bad one is a reason, never a retry.
Hostile zips are built here with zipfile."""
import io
import json
import time
import uuid
import zipfile

import pytest

from asset_helpers import create_apps, submit, wait_job
from test_apps import User
from test_platform import err

MANIFEST = json.dumps({"format": "openroma-assets", "version": 1, "apps": [], "tasks": []})


@pytest.fixture(scope="module")
def outsider(stack):
    """A user of the project who is a member of none of the owner's apps."""
    return User(stack)


@pytest.fixture(scope="module")
def reader(stack):
    """A user given only the read role on the apps of the tests."""
    return User(stack)


def grant(stack, app_id, user, roles):
    r = stack.client().put(stack.inst(f"/apps/{app_id}/users"), json={"users": [{"id": user.id, "roles": roles}]})
    assert r.status_code == 200, r.text


def zip_of(entries, manifest=True):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
        if manifest:
            z.writestr("manifest.json", MANIFEST)
    return buf.getvalue()


def app_doc(**app):
    return json.dumps({"kind": "application", "format_version": 1, "app": app})


def run_job(stack, client, kind, apps):
    r = client.post(stack.inst(f"/assets/{kind}"), json={"apps": [{"id": a} for a in apps], "tasks": []})
    assert r.status_code == 200, r.text
    return wait_job(stack, r.json()["job_id"])


def import_zip(stack, client, package, **params):
    r = client.post(stack.inst("/assets/import"), params=params,
                    files={"ImportAssetRequestBody": ("pkg.zip", package, "application/zip")})
    assert r.status_code == 200, r.text
    return r.json()["job_id"]


def download(stack, client, archive_id):
    r = client.get(stack.inst(f"/assets/archives/{archive_id}"))
    assert r.status_code == 200, r.text
    return r.content


def codes(final):
    return sorted(x["error_code"] for x in final["reasons"])


def secret_of(client, stack, app_id):
    r = client.get(stack.inst(f"/apps/{app_id}/secret"))
    assert r.status_code == 200, r.text
    return r.json()["secret"]


def find_app(stack, client, name):
    apps = client.get(stack.inst("/apps"), params={"name": name}).json()["apps"]
    return [a for a in apps if a["name"] == name]


# ---- 4: roles -------------------------------------------------------------------------------------------

def test_delete_job_needs_the_delete_role(stack, outsider, reader):
    [a] = create_apps(stack, 1)
    grant(stack, a["id"], reader, ["read"])
    err(outsider.client.delete(stack.inst(f"/apps/{a['id']}")), 403, "ROMA.12001")  # the direct rule
    for user in (outsider, reader):
        final = run_job(stack, user.client, "delete", [a["id"]])
        assert final["status"] == "FAILED", final
        assert [(x["resource_name"], x["error_code"]) for x in final["reasons"]] == [(a["id"], "ROMA.12001")]
        assert stack.client().get(stack.inst(f"/apps/{a['id']}")).status_code == 200, "the app must stay"
    assert run_job(stack, stack.client(), "delete", [a["id"]])["status"] == "SUCCEEDED"
    assert stack.client().get(stack.inst(f"/apps/{a['id']}")).status_code == 404


def test_export_needs_membership_and_never_hands_out_a_secret(stack, outsider, reader):
    [a] = create_apps(stack, 1)
    victim_secret = secret_of(stack.client(), stack, a["id"])
    # a non-member cannot export it, listed or in a full export
    final = run_job(stack, outsider.client, "export", [a["id"]])
    assert final["status"] == "FAILED" and codes(final) == ["ROMA.12001"] and "archive_id" not in final
    full = run_job(stack, outsider.client, "export", [])
    assert full["status"] == "SUCCEEDED", full
    names = json.loads(zipfile.ZipFile(io.BytesIO(download(stack, outsider.client, full["archive_id"])))
                       .read("manifest.json"))["apps"]
    assert a["id"] not in [x["id"] for x in names]

    # a read-only member exports it without any secret, and its import copy gets a fresh one
    grant(stack, a["id"], reader, ["read"])
    final = run_job(stack, reader.client, "export", [a["id"]])
    assert final["status"] == "SUCCEEDED", final
    package = download(stack, reader.client, final["archive_id"])
    doc = json.loads(zipfile.ZipFile(io.BytesIO(package)).read(f"apps/{a['id']}.json"))["app"]
    assert "secret_sealed" not in doc and "secret_grant" not in doc, doc
    assert wait_job(stack, import_zip(stack, reader.client, package, prefix="stolen_"))["status"] == "SUCCEEDED"
    [copy] = find_app(stack, reader.client, "stolen_" + a["name"])
    assert secret_of(reader.client, stack, copy["id"]) != victim_secret

    # the owner's package carries a grant: honoured for the owner, a fresh secret for anyone else
    final = run_job(stack, stack.client(), "export", [a["id"]])
    owner_pkg = download(stack, stack.client(), final["archive_id"])
    assert victim_secret.encode() not in owner_pkg
    doc = json.loads(zipfile.ZipFile(io.BytesIO(owner_pkg)).read(f"apps/{a['id']}.json"))["app"]
    assert doc["secret_grant"].startswith("v1:") and "secret_sealed" not in doc
    assert wait_job(stack, import_zip(stack, reader.client, owner_pkg, prefix="stolen2_"))["status"] == "SUCCEEDED"
    [copy] = find_app(stack, reader.client, "stolen2_" + a["name"])
    assert secret_of(reader.client, stack, copy["id"]) != victim_secret
    # an older package's plain secret_sealed is not honoured either
    legacy = zip_of([(f"apps/{uuid.uuid4()}.json", app_doc(
        name="legacy_" + a["name"], secret_sealed=stack.sql(f"SELECT secret_sealed FROM apps WHERE id = '{a['id']}'")))])
    assert wait_job(stack, import_zip(stack, reader.client, legacy))["status"] == "SUCCEEDED"
    [copy] = find_app(stack, reader.client, "legacy_" + a["name"])
    assert secret_of(reader.client, stack, copy["id"]) != victim_secret
    assert wait_job(stack, import_zip(stack, stack.client(), owner_pkg, prefix="mine_"))["status"] == "SUCCEEDED"
    [copy] = find_app(stack, stack.client(), "mine_" + a["name"])
    assert secret_of(stack.client(), stack, copy["id"]) == victim_secret


def test_merge_import_needs_the_update_role(stack, reader):
    [a] = create_apps(stack, 1)
    grant(stack, a["id"], reader, ["read", "modify"])
    err(reader.client.put(stack.inst(f"/apps/{a['id']}"), json={"remark": "hacked"}), 403, "ROMA.12001")
    package = zip_of([(f"apps/{uuid.uuid4()}.json", app_doc(name=a["name"], remark="hacked"))])
    final = wait_job(stack, import_zip(stack, reader.client, package, type="Merge"))
    assert final["status"] == "FAILED" and codes(final) == ["ROMA.12001"], final
    assert stack.client().get(stack.inst(f"/apps/{a['id']}")).json()["remark"] == a["remark"]
    # the admin may
    final = wait_job(stack, import_zip(stack, stack.client(), package, type="Merge"))
    assert final["status"] == "SUCCEEDED", final
    assert stack.client().get(stack.inst(f"/apps/{a['id']}")).json()["remark"] == "hacked"


# ---- 7: amplification -----------------------------------------------------------------------------------

def job_reply(stack, job_id):
    r = stack.client().get(stack.inst(f"/assets/jobs/{job_id}"))
    assert r.status_code == 200
    return r


def test_too_many_entries_is_one_reason(stack):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("manifest.json", MANIFEST)
        for i in range(100_000):
            z.writestr(f"apps/{i:08d}.json", "{}")
    package = buf.getvalue()
    print(f"\n100k-entry package: {len(package) / 1e6:.1f} MB")
    final = wait_job(stack, import_zip(stack, stack.client(), package), timeout=60)
    assert final["status"] == "FAILED"
    assert [x["error_code"] for x in final["reasons"]] == ["ROMA.00015008"], final["reasons"][:3]
    assert "ROMA_IMPORT_MAX_ENTRIES" in final["reasons"][0]["error_msg"]
    assert len(job_reply(stack, final["id"]).content) < 4096


def test_inflated_bytes_are_capped_while_inflating(stack):
    big = b"\0" * (4 * 1024 * 1024)
    package = zip_of([(f"apps/{i:04d}.json", big) for i in range(256)])
    t0 = time.time()
    final = wait_job(stack, import_zip(stack, stack.client(), package), timeout=30)
    took = time.time() - t0
    print(f"\n256 x 4 MB entries refused in {took:.2f} s")
    assert final["status"] == "FAILED" and codes(final) == ["ROMA.00015008"], final
    assert "ROMA_IMPORT_MAX_ENTRY_BYTES" in final["reasons"][0]["error_msg"]
    assert took < 2.0
    # many entries each under the entry cap but over the package cap in all (64 MiB)
    package = zip_of([(f"apps/{i:04d}.json", b" " * (1024 * 1024 - 10)) for i in range(70)])
    final = wait_job(stack, import_zip(stack, stack.client(), package), timeout=30)
    assert final["status"] == "FAILED" and codes(final) == ["ROMA.00015008"], final
    assert "ROMA_IMPORT_MAX_BYTES" in final["reasons"][0]["error_msg"]


def test_reasons_are_capped_with_a_count_and_replies_stay_small(stack):
    package = zip_of([(f"apps/{i:05d}.json", "{}") for i in range(3000)])
    job_id = import_zip(stack, stack.client(), package)
    final = wait_job(stack, job_id, timeout=60)
    assert final["status"] == "FAILED"
    reasons = final["reasons"]
    assert len(reasons) == 101, len(reasons)
    assert {x["error_code"] for x in reasons[:100]} == {"ROMA.00015005"}
    assert reasons[100]["error_code"] == "ROMA.00015007" and reasons[100]["error_msg"].startswith("2900 ")
    size = len(job_reply(stack, job_id).content)
    print(f"\nstatus reply of a 3000-reason job: {size} bytes")
    assert size < 64 * 1024
    assert stack.sql(f"SELECT attempt FROM asset_jobs WHERE id = '{job_id}'") == "1"


def test_status_reply_is_bounded_for_any_stored_row(stack):
    """A row written before the caps (20,000 long reasons) still answers a bounded reply."""
    job_id = submit(stack, "export", body={"apps": [], "tasks": []}).json()["job_id"]
    wait_job(stack, job_id)
    stack.sql("UPDATE asset_jobs SET status = 'FAILED', reasons = (SELECT jsonb_agg(jsonb_build_object("
              "'resource_type', 'application', 'resource_name', repeat('n', 1000), 'error_code', 'X',"
              f" 'error_msg', 'm')) FROM generate_series(1, 20000)) WHERE id = '{job_id}'")
    r = job_reply(stack, job_id)
    body = r.json()
    assert len(body["reasons"]) == 1001 and len(body["reasons"][0]["resource_name"]) == 256
    print(f"\nstatus reply of a stored 20,000-reason row: {len(r.content)} bytes")
    assert len(r.content) < 1_200_000


# ---- 8: validation --------------------------------------------------------------------------------------

HOSTILE = [
    ("name", {"name": "<script>alert(1)</script>"}),
    ("name", {"name": "ansi \x1b[31mred"}),
    ("name", {"name": "rtl \u202egnp.exe"}),
    ("name", {"name": "n" * 5000}),
    ("key", {"key": "k" * 5000}),
    ("key", {"key": ""}),
    ("remark", {"remark": "r" * 100_000}),
    ("id", {"id": "../../not-a-uuid"}),
    ("members", {"members": [{"user_id": "u1", "roles": ["superuser"]}]}),
    ("name", {"name": 7}),
]


def test_imported_documents_follow_the_create_rules(stack):
    tag = uuid.uuid4().hex[:8]
    entries = []
    for i, (_, fields) in enumerate(HOSTILE):
        app = {"name": f"hostile-{tag}-{i}"}
        app.update(fields)
        entries.append((f"apps/{i:02d}.json", app_doc(**app)))
    good = f"good-{tag}"
    entries.append(("apps/99.json", app_doc(name=good, remark="ok")))
    entries.append(("apps/98.json", "[1, 2"))  # not JSON
    job_id = import_zip(stack, stack.client(), zip_of(entries))
    final = wait_job(stack, job_id)
    assert final["status"] == "FAILED"
    got = sorted(x["error_code"] for x in final["reasons"])
    assert got == sorted(["ROMA.13000"] * len(HOSTILE) + ["ROMA.00015005"]), final["reasons"]
    for (field, _), reason in zip(HOSTILE, [x for x in final["reasons"] if x["error_code"] == "ROMA.13000"]):
        assert field in reason["error_msg"], (field, reason)
        assert "\x1b" not in reason["resource_name"] and len(reason["resource_name"]) <= 64
    # a permanent refusal is never retried
    assert stack.sql(f"SELECT attempt FROM asset_jobs WHERE id = '{job_id}'") == "1"
    # only the valid document was imported; nothing hostile is listed
    assert len(find_app(stack, stack.client(), good)) == 1
    assert stack.sql(f"SELECT count(*) FROM apps WHERE name LIKE 'hostile-{tag}%' OR id = '../../not-a-uuid'") == "0"


def test_prefix_must_be_name_characters(stack):
    package = zip_of([])
    for bad in ("<x>", "a\x1b", "\u202e"):
        r = stack.client().post(stack.inst("/assets/import"), params={"prefix": bad},
                                files={"ImportAssetRequestBody": ("pkg.zip", package, "application/zip")})
        err(r, 400, "ROMA.13000")
    # a prefix that is a valid name start but makes keys invalid: per-app reasons
    tag = uuid.uuid4().hex[:6]
    final = wait_job(stack, import_zip(stack, stack.client(), zip_of([("apps/1.json", app_doc(name=f"p{tag}"))]),
                                       prefix="my copy "))
    assert final["status"] == "FAILED" and codes(final) == ["ROMA.13000"], final
    assert "key" in final["reasons"][0]["error_msg"]
