#!/usr/bin/env bash
# alibaba_pack.sh - the FGD paper's inflation experiment on Alibaba's GPU
# trace: every placement scorer, several seeds, one run.
#
#   bench/alibaba_pack.sh [SEEDS] [VARIANTS...]   (default 5 seeds; variant "default")
#
# VARIANTS name pod lists openb_pod_list_VARIANT.csv (default, gpushare100,
# multigpu50, gpuspec33, ...); each gets its own table.
#
# Input: ../shared/data/alibaba-gpu-v2023 (openb_node_list_all_node.csv with
# openb_pod_list_default.csv, CPU-only tasks included as in the paper's
# default workload). Prints pack-eval's table: per scorer the median
# (min..max) GPU allocation ratio and unallocated GPUs when arrivals reach
# 1.0x the cluster's GPUs and at 1.3x, and the ceil(sum of requests) bound.
# Baseline: KAI's default scorer, binpack.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
seeds=${1:-5}; shift || true
variants=("$@"); [ ${#variants[@]} -gt 0 ] || variants=(default)
trace=${GF_SHARED_DATA:-../shared/data}/alibaba-gpu-v2023
[ -r "$trace/openb_pod_list_default.csv" ] || { echo "bench: $trace not found" >&2; exit 2; }
build_release
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "machine: $(machine)"
for v in "${variants[@]}"; do
  build-rel/gpufrac convert-alibaba -q -c -o "$tmp/trace.json" \
    "$trace/openb_node_list_all_node.csv" "$trace/openb_pod_list_$v.csv"
  echo "trace: openb_pod_list_$v.csv"
  echo "command: gpufrac pack-eval --seeds $seeds --until 1.3 --at 1.0 trace.json"
  build-rel/gpufrac pack-eval -q --seeds "$seeds" --until 1.3 --at 1.0 "$tmp/trace.json"
done
