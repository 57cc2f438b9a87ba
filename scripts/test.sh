#!/usr/bin/env bash
# test.sh - the README's test command: install what is missing, build, run the
# whole test suite (unit tests through ctest, CLI tests through the binary).
#
#   scripts/test.sh               plain build in build/
#   scripts/test.sh --sanitize    ASan+UBSan build in build-asan/
#   scripts/test.sh --valgrind    plain build, every test under valgrind memcheck
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-plain}
scripts/deps.sh --test
case "$mode" in
  plain)
    scripts/build.sh build -DGF_TESTS=ON
    (cd build && ctest --output-on-failure -j"$(nproc)") ;;
  --sanitize)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    GF_BUILD_TYPE=Debug scripts/build.sh build-asan -DGF_SANITIZE=ON -DGF_TESTS=ON
    (cd build-asan && ctest --output-on-failure -j"$(nproc)") ;;
  --valgrind)
    scripts/deps.sh --ci
    scripts/build.sh build -DGF_TESTS=ON
    # unit tests directly under memcheck; CLI tests wrap the binary via GF_WRAP
    export GF_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
    fail=0
    for t in build/test_*; do
      [ -x "$t" ] || continue
      echo "== valgrind $t"
      $GF_WRAP "$t" >/dev/null || { echo "FAILED under valgrind: $t" >&2; fail=1; }
    done
    (cd build && ctest --output-on-failure -R '^cli_') || fail=1
    exit $fail ;;
  *) echo "usage: $0 [--sanitize|--valgrind]" >&2; exit 2 ;;
esac
