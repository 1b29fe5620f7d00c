#!/usr/bin/env bash
# gen-secret.sh: creates deploy/secrets/secret.key (32 random bytes as 64 hex characters, mode 0600), the
# data-encryption key docker-compose.yml hands to every OpenROMA container as the secret
# "roma_secret_key". Never overwrites an existing key: secrets sealed with it would become unreadable.
set -euo pipefail
f=${1:-$(dirname "${BASH_SOURCE[0]}")/secrets/secret.key}
if [[ -s $f ]]; then echo "$f exists: kept" >&2; exit 0; fi
mkdir -p "$(dirname "$f")"
(umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$f")
echo "created $f" >&2
