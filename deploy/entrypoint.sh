#!/bin/sh
# entrypoint.sh: container entry point of the OpenROMA runtime image. Reads the data-encryption key from
# the docker secret (the host file may be root-only 0600: this part runs as root) into ROMA_SECRET_KEY,
# then runs the command as the unprivileged user "roma". ROMA_SECRET_KEY set explicitly wins.
set -eu
secret=${ROMA_SECRET_KEY_SECRET:-/run/secrets/roma_secret_key}
if [ -z "${ROMA_SECRET_KEY:-}" ] && [ -r "$secret" ]; then
  ROMA_SECRET_KEY=$(tr -d ' \r\n' <"$secret")
  export ROMA_SECRET_KEY
fi
if [ "$(id -u)" = 0 ]; then
  exec setpriv --reuid=roma --regid=roma --init-groups -- "$@"
fi
exec "$@"
