#!/bin/sh
# apt-ensure.sh LIST...: installs the Debian packages named in the package lists (deploy/packages/*.list,
# '#' starts a comment) that the image lacks. On a base image from deploy/build-base.sh they are all
# there and apt-get is never called (no registry or package mirror needed); on debian:bookworm-slim
# it runs apt-get update + install and removes the lists again.
set -eu
pkgs=$(sed 's/#.*//' "$@" | tr -s ' \t\n' '\n' | sed '/^$/d' | sort -u)
missing=
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "apt-ensure: all installed" >&2
  exit 0
fi
echo "apt-ensure: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # a word list on purpose
apt-get install -y -q --no-install-recommends $missing
rm -rf /var/lib/apt/lists/*
