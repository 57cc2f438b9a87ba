#!/usr/bin/env bash
# history.sh - ingest rate, memory per series and save/load time of the
# usage history (decide/history.c, io/history_sqlite.c).
#
#   bench/history.sh [RUNS] [SAMPLES] [WORKLOADS]   (default 5 runs; 20000000 samples; 10000 workloads)
#
# Builds Release into build-rel, runs build-rel/bench_history RUNS times and
# prints the median (min..max) of every figure it reports: samples/s through
# gf_history_add (key lookup) and gf_history_add_to (cached series), bytes
# per series, and save/load time of the resulting history.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-5}
samples=${2:-20000000}
workloads=${3:-10000}
GF_BUILD_TYPE=Release scripts/build.sh build-rel -DGF_TESTS=OFF >&2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for ((i = 0; i < runs; i++)); do
  build-rel/bench_history "$samples" "$workloads" >"$tmp/run$i"
done
echo "machine: $(machine)"
echo "runs: $runs, samples: $samples, workloads: $workloads"
printf "%-22s %14s %28s\n" figure median "min..max"
for key in add_by_key_per_s add_by_series_per_s bytes_per_series sizeof_series save_s load_s file_bytes; do
  cat "$tmp"/run* | awk -v k="$key" '$1 == k { print $2 }' | sort -g | awk -v k="$key" '
    { v[NR] = $1 }
    END {
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%-22s %14s %28s\n", k, med, v[1] ".." v[NR]
    }'
done
