#!/usr/bin/env bash
# deps.sh - install the Debian packages gpufrac needs, only those missing.
#
#   scripts/deps.sh            build + run (compiler, cmake, libraries)
#   scripts/deps.sh --test     + test tools (cmocka, jq, Prometheus, curl, openssl, Chromium
#                                for the report's browser test, zlib for its PNG check, zsh
#                                for the completion test, tmux for gpufrac top; kubectl, see below)
#   scripts/deps.sh --ci       + CI tools (clang/libFuzzer, valgrind, cppcheck, clang-format)
#   scripts/deps.sh --bench    build + benchmark tools (GNU time, jq)
#   scripts/deps.sh --runtime  only what the programs need to run (the container
#                              images' runtime stage, scripts/image-test.sh)
#   scripts/deps.sh --image    build + runtime + debootstrap (scripts/image-test.sh)
#
# Idempotent: runs apt-get only when something is missing, and `apt-get update`
# once before the first install. Needs root (or sudo) on Debian bookworm.
set -euo pipefail

build=(gcc make cmake pkg-config libjansson-dev libyaml-dev libsqlite3-dev libcurl4-openssl-dev
       libmicrohttpd-dev)
runtime=(libjansson4 libyaml-0-2 libsqlite3-0 libcurl4 libmicrohttpd12 ca-certificates)
test=(libcmocka-dev jq prometheus curl openssl chromium zlib1g-dev zsh tmux)
ci=(clang libclang-rt-14-dev valgrind cppcheck clang-format)
bench=(time jq)

want=("${build[@]}")
case "${1:-}" in
  --test) want+=("${test[@]}") ;;
  --ci) want+=("${test[@]}" "${ci[@]}") ;;
  --bench) want+=("${bench[@]}") ;;
  --runtime) want=("${runtime[@]}") ;;
  --image) want+=("${runtime[@]}" debootstrap) ;;
  "") ;;
  *) echo "usage: $0 [--test|--ci|--bench|--runtime|--image]" >&2; exit 2 ;;
esac
# tests/cli_deploy.sh renders deploy/ with kubectl: Debian's kubernetes-client
# where no kubectl is installed (another package's /usr/bin/kubectl would
# conflict with it)
case "${1:-}" in
  --test|--ci) command -v kubectl >/dev/null || want+=(kubernetes-client) ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root to install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
