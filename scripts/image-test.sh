#!/usr/bin/env bash
# image-test.sh - what Containerfile builds, without a container engine:
# the runtime stage's root file system from Debian bookworm (debootstrap
# --variant=minbase, then scripts/image-runtime.sh in a chroot: the same
# step as the Containerfile's RUN), the programs built as the build stage
# builds them (scripts/build.sh, Release, -DGF_TESTS=OFF, stripped; on this
# machine, which must be Debian bookworm with deps.sh's build group, instead
# of in a build container), then inside the chroot as the image's user 65532:
#   - every shared library the programs need resolves (ldd), and no compiler
#     or -dev package is present;
#   - gpufrac --version and gpufrac-exporter --version;
#   - a smoke run of each: gen-snapshot | inspect -s, and one exporter scrape
#     without NVML (it must say NVML is down, not crash).
# Opt-in (needs root and Debian's mirror, takes a minute or two; not part of
# ctest or CI):
#   scripts/image-test.sh [MIRROR]     (default http://deb.debian.org/debian)
#   GF_IMAGE_KEEP=DIR keeps the root file system there.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
mirror=${1:-http://deb.debian.org/debian}
[ "$(id -u)" -eq 0 ] || { echo "image-test: needs root (debootstrap, chroot)" >&2; exit 1; }
scripts/deps.sh --image

root=${GF_IMAGE_KEEP:-$(mktemp -d /var/tmp/gf-image.XXXXXX)}
chmod 0755 "$root" # mktemp's 0700 would keep the image's user out of its own /
mounted=""
cleanup() {
  [ -n "$mounted" ] && umount "$root/proc" 2>/dev/null || true
  [ -n "${GF_IMAGE_KEEP:-}" ] || rm -rf "$root"
}
trap cleanup EXIT

echo "== build stage (scripts/build.sh, Release, no tests)"
GF_BUILD_TYPE=Release scripts/build.sh build-image -DGF_TESTS=OFF
echo "== runtime stage: debootstrap bookworm minbase ($mirror)"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
  { tail -20 "$root.debootstrap.log"; exit 1; }
rm -f "$root.debootstrap.log"
cp scripts/deps.sh scripts/image-runtime.sh "$root/tmp/"
chroot "$root" /tmp/image-runtime.sh /tmp/deps.sh
rm "$root/tmp/deps.sh" "$root/tmp/image-runtime.sh"
install -D -s -m 0755 build-image/gpufrac "$root/usr/bin/gpufrac"
install -D -s -m 0755 build-image/gpufrac-exporter "$root/usr/bin/gpufrac-exporter"
mount -t proc proc "$root/proc" && mounted=1

pass=0 fail=0
check() { # name, command...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); echo "ok: $name"; else fail=$((fail+1)); echo "FAIL: $name"; fi
}
in_image() { chroot --userspec=65532:65532 "$root" "$@"; }
libs_resolve() { local out; out=$(in_image ldd "$1") && ! grep -q "not found" <<<"$out"; }
check "user gpufrac is 65532" [ "$(chroot "$root" id -u gpufrac)" = 65532 ]
check "gpufrac: libraries resolve" libs_resolve /usr/bin/gpufrac
check "gpufrac-exporter: libraries resolve" libs_resolve /usr/bin/gpufrac-exporter
check "no compiler in the image" [ ! -e "$root/usr/bin/gcc" ] && [ ! -e "$root/usr/bin/cc" ]
check "no -dev headers in the image" [ ! -e "$root/usr/include/jansson.h" ]
check "gpufrac --version" in_image sh -c 'gpufrac --version | grep -q "^gpufrac "'
check "gpufrac-exporter --version" in_image sh -c 'gpufrac-exporter --version | grep -q "^gpufrac-exporter "'
check "gpufrac smoke: gen-snapshot | inspect -s" \
  in_image sh -c 'cd /tmp && gpufrac gen-snapshot --nodes 3 --seed 7 | gpufrac inspect -s - | grep -q "^CLUSTER: 3 nodes"'
scrape=$(in_image gpufrac-exporter --once --proc-root /proc 2>/dev/null; echo "rc=$?")
check "exporter smoke: one scrape without NVML says NVML is down, exits 1" \
  sh -c 'printf "%s\n" "$1" | grep -q "^gpufrac_exporter_nvml_up 0" && printf "%s\n" "$1" | grep -q "^rc=1$"' _ "$scrape"
size=$(du -sm --exclude=proc "$root" | cut -f1)
echo "root file system: ${size} MiB (debootstrap minbase + runtime libraries + 2 programs)"
echo "image-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
