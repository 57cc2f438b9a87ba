#!/usr/bin/env bash
# exporter.sh - CPU time per scrape (collect + render) and peak memory of
# gpufrac-exporter's collection on a busy simulated node (bench/bench_exporter.c).
#
#   bench/exporter.sh [RUNS] [GPUS] [PROCS_PER_GPU] [SCRAPES]
#       (default 5 runs; 8 GPUs x 64 processes; 2001 scrapes per run)
#
# Builds Release into build-rel, compiles the fake NVML (tests/fake_nvml,
# normally built only with the tests) next to it, runs build-rel/bench_exporter
# RUNS times and prints the median (min..max) over the runs of every figure
# it reports. Targets: scrape_cpu_us_median < 1000 (1 ms), peak_rss_kib < 10240.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-5}
gpus=${2:-8}
per_gpu=${3:-64}
scrapes=${4:-2001}
GF_BUILD_TYPE=Release scripts/build.sh build-rel -DGF_TESTS=OFF >&2
cc -O2 -shared -fPIC -o build-rel/libnvidia-ml-fake.so tests/fake_nvml/fake_nvml.c
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for ((i = 0; i < runs; i++)); do
  build-rel/bench_exporter build-rel/libnvidia-ml-fake.so "$gpus" "$per_gpu" "$scrapes" >"$tmp/run$i"
done
echo "machine: $(machine)"
echo "runs: $runs, GPUs: $gpus, processes per GPU: $per_gpu, scrapes per run: $scrapes"
printf "%-24s %14s %28s\n" figure median "min..max"
for key in processes series exposition_bytes first_scrape_us scrape_cpu_us_median scrape_cpu_us_p90 \
           scrape_cpu_us_max collect_cpu_us_median render_cpu_us_median peak_rss_kib \
           rss_anon_kib rss_file_kib; do
  cat "$tmp"/run* | awk -v k="$key" '$1 == k { print $2 }' | sort -g | awk -v k="$key" '
    { v[NR] = $1 }
    END {
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%-24s %14s %28s\n", k, med, v[1] ".." v[NR]
    }'
done
