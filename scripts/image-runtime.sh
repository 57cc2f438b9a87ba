#!/bin/sh
# image-runtime.sh - the container images' runtime stage, run as root inside
# a Debian bookworm root file system: the shared libraries the programs link
# (deps.sh --runtime, nothing else), and the non-root user 65532 "gpufrac"
# the images run as. Used by Containerfile and scripts/image-test.sh, so that
# both build the same file system.
#   image-runtime.sh DEPS_SH
set -eu
"${1:-/tmp/deps.sh}" --runtime
apt-get clean
rm -rf /var/lib/apt/lists/*
getent passwd gpufrac >/dev/null ||
  useradd --system --uid 65532 --user-group --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin gpufrac
