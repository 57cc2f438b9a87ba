#!/usr/bin/env bash
# gov_consolidate.sh - consolidation planning time and result before and
# after KAI's governance rules (issue 12: gangs, non-preemptible pods,
# topology, shards), on gen-snapshot's clusters (which hold no PodGroups:
# this measures what the rules cost on the hot path when they do not apply).
#
#   bench/gov_consolidate.sh [BASE_COMMIT] [RUNS] [SIZES...]
#       (default: d03fa43, the commit before the rules; 5 runs; 1000 10000 30000)
#
# Builds bench_consolidate (RelWithDebInfo, -O2) of BASE_COMMIT (git archive
# into a temporary directory) and of the working tree, then per size runs
# `bench_consolidate plan N RUNS 0` (the greedy pass) of each, base first,
# twice in turn. Each line: nodes, median wall s, min, max, CPU s, nodes
# drained, bound.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-d03fa43}; runs=${2:-5}; shift 2 || shift $# || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000 30000)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
git archive "$base" | tar -x -C "$tmp"
for d in "$tmp" .; do
  cmake -S "$d" -B "$d/build-gov" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGF_TESTS=OFF >/dev/null
  cmake --build "$d/build-gov" --target bench_consolidate -j"$(nproc)" >/dev/null
done
echo "machine: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in "${sizes[@]}"; do
  for turn in 1 2; do
    echo "base $base: $("$tmp/build-gov/bench_consolidate" plan "$n" "$runs" 0 | tail -1)"
    echo "this tree:  $(build-gov/bench_consolidate plan "$n" "$runs" 0 | tail -1)"
  done
done
