#!/usr/bin/env bash
# build-base.sh: builds the base images of deploy/Dockerfile from Debian's packages, for machines whose
# Docker engine has no registry to pull debian:bookworm-slim (or postgres, nginx) from.
#
# Each image is `mmdebstrap --variant=minbase bookworm` with its package list already installed, piped
# into `docker import`. The packages are in the image because a `docker build` RUN step on such a machine
# must not depend on a package mirror (on the development machine deb.debian.org IS reachable from
# `docker run` and from `docker build` RUN steps, see README.md "Running with docker-compose", but a
# registry-less machine need not have one), and so that a build installs nothing and is fast:
# deploy/apt-ensure.sh (the Dockerfile's install step) then finds them installed and skips apt-get.
#
#   openroma-base:<hash>     runtime libraries of the binaries + curl (the "runtime" stage)
#   openroma-build:<hash>    the compiler and the -dev packages (the "build" stage)
#   openroma-pgbase:<hash>   postgresql-15 (the "postgres" stage)
#   openroma-lbbase:<hash>   nginx-light + curl (the "lb" stage)
#
# <hash> is the first 16 hex digits of the SHA-256 of the image's package list, suite and mirror, so a
# second run finds the images and builds nothing (~0.1 s); editing a list builds that image anew.
# Prints the four image names as shell assignments (ROMA_BASE_IMAGE=... etc.) on stdout: `eval` them or
# write them to .env (deploy/compose-test.sh does) so docker-compose.yml passes them as build args.
#   Environment: ROMA_DEBIAN_MIRROR (default http://deb.debian.org/debian), ROMA_DEBIAN_SUITE (bookworm).
#   Needs root (or sudo), mmdebstrap and docker.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

MIRROR=${ROMA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${ROMA_DEBIAN_SUITE:-bookworm}

# the package lists are shared with deploy/Dockerfile (apt-ensure.sh reads the same files)
list() { sed 's/#.*//' "packages/$1.list"; }

SUDO=; [[ $(id -u) -eq 0 ]] || SUDO=sudo

# build_one NAME PACKAGES [HOOK]: prints NAME:<hash>, building it first unless the engine already has it;
# HOOK is an extra mmdebstrap --customize-hook (part of the hash)
build_one() {
  local name=$1 pkgs hash tag t0 hook=${3:-true}
  pkgs=$(echo "$2" | tr -s ' \t\n' '\n' | sed '/^$/d' | sort -u | tr '\n' ',' | sed 's/,$//')
  local recipe="suite=$SUITE mirror=$MIRROR variant=minbase v=1 pkgs=$pkgs"
  [[ $hook == true ]] || recipe+=" hook=$hook"
  hash=$(printf '%s\n' "$recipe" | sha256sum | cut -c1-16)
  tag="$name:$hash"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "build-base: $tag cached" >&2
  else
    command -v mmdebstrap >/dev/null || { echo "build-base: needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }
    t0=$(date +%s)
    echo "build-base: building $tag ($pkgs)" >&2
    # minbase: Essential packages + apt; the docs, man pages and locales are left out of the image, as
    # in debian:*-slim; apt's lists are removed (the image cannot use them offline anyway)
    $SUDO mmdebstrap --quiet --variant=minbase --include="$pkgs" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      --customize-hook="$hook" \
      "$SUITE" - "$MIRROR" |
      docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' \
        --message "mmdebstrap $SUITE minbase + $pkgs" - "$tag" >/dev/null
    echo "build-base: $tag built in $(( $(date +%s) - t0 )) s" >&2
  fi
  echo "$tag"
}

echo "ROMA_BASE_IMAGE=$(build_one openroma-base "$(list runtime)")"
echo "ROMA_BUILD_IMAGE=$(build_one openroma-build "$(list build)")"
# the package's postinst creates a cluster in /var/lib/postgresql/15/main: the image's entrypoint makes
# its own in the volume, so that one (39 MB) goes
echo "ROMA_PG_BASE_IMAGE=$(build_one openroma-pgbase "$(list postgres)" \
  'rm -rf "$1"/var/lib/postgresql/15 "$1"/etc/postgresql/15')"
echo "ROMA_LB_BASE_IMAGE=$(build_one openroma-lbbase "$(list lb)")"
