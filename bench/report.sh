#!/usr/bin/env bash
# report.sh - what the simulation report's charts cost: `gpufrac simulate`
# with and without `--report`, its page's size, and the same runs of a
# baseline binary (the build before the charts' accounting) side by side.
#
#   bench/report.sh [RUNS [BASELINE_GPUFRAC [NODES...]]]   (default 3 runs; 50 200)
#
# Runs: the default cluster (50 nodes) and a 200-node cluster, 7 days at
# one-minute steps, every policy, builtin demand, seed 1; each command
# timed RUNS times (median and range of wall seconds, median CPU seconds,
# peak RSS). BASELINE_GPUFRAC: a gpufrac binary to compare with, e.g. one
# built (Release) from the commit before the charts; without it only this
# tree's build is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-3}
base=${2:-}
shift 2 || shift $# || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(50 200)
build_release
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "machine: $(machine)"
echo
echo "| binary | run | command | wall s median (min..max) | CPU s | peak RSS MiB | page bytes |"
echo "|---|---|---|---:|---:|---:|---:|"
row() { # name binary nodes [--report]
  local name=$1 bin=$2 nodes=$3; shift 3
  local args=(simulate -q --nodes "$nodes" "$@")
  read -r wall lo hi rss cpu < <(measure "$runs" "$bin" "${args[@]}")
  local size=-
  if [ $# -gt 0 ]; then "$bin" "${args[@]}" >/dev/null; size=$(stat -c %s "$tmp/r.html"); fi
  printf '| %s | %d nodes, 7 days | simulate%s | %.2f (%.2f..%.2f) | %.2f | %d | %s |\n' \
    "$name" "$nodes" "${1:+ --report}" "$wall" "$lo" "$hi" "$cpu" "$rss" "$size"
}
for nodes in "${sizes[@]}"; do
  [ -n "$base" ] && row baseline "$base" "$nodes"
  [ -n "$base" ] && row baseline "$base" "$nodes" --report "$tmp/r.html"
  row "this tree" build-rel/gpufrac "$nodes"
  row "this tree" build-rel/gpufrac "$nodes" --report "$tmp/r.html"
done
