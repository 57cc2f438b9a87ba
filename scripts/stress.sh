#!/usr/bin/env bash
# stress.sh - run the whole suite repeatedly under load, to find tests that
# depend on timing luck: `ctest -j2 --repeat until-fail:N` in build/ while
# another build of the project runs beside it (a second build tree rebuilt
# from clean in a loop, one compile job at a time), as on a loaded CI machine.
# Stops at the first failing run and prints its output.
#   scripts/stress.sh [REPEATS] [CTEST_REGEX]     (default: 10, every test)
# CI runs a short form (scripts/stress.sh 2); the issue's bar is 10/10.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-10}
regex=${2:-}
case "$repeats" in '' | *[!0-9]*) echo "usage: $0 [REPEATS] [CTEST_REGEX]" >&2; exit 2 ;; esac
scripts/deps.sh --test
scripts/build.sh build -DGF_TESTS=ON
cmake -S . -B build-load -DCMAKE_BUILD_TYPE=Debug -DGF_TESTS=OFF >/dev/null

load_pid=""
stop_load() {
  [ -n "$load_pid" ] || return 0
  kill -TERM -- "-$load_pid" 2>/dev/null || kill -TERM "$load_pid" 2>/dev/null || true
  wait "$load_pid" 2>/dev/null || true
  load_pid=""
}
trap stop_load EXIT
# the load: a clean rebuild, over and over, in its own process group
set -m
(while :; do cmake --build build-load --clean-first -j1 >/dev/null 2>&1 || sleep 1; done) &
load_pid=$!
set +m

args=(--output-on-failure -j2 --repeat "until-fail:$repeats")
[ -n "$regex" ] && args+=(-R "$regex")
echo "stress: ctest ${args[*]} with a rebuild loop beside it" >&2
start=$SECONDS
status=0
(cd build && ctest "${args[@]}") || status=$?
stop_load
echo "stress: $repeats repeats, $((SECONDS - start)) s, exit $status" >&2
exit $status
