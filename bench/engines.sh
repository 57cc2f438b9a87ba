#!/usr/bin/env bash
# engines.sh - rightsizing on the inference-engine mix (issue "Inference
# engines"): `gpufrac simulate --engines`, where each service's engine
# class comes from its pod spec (sim/gen.c set_engine: vLLM, SGLang, TGI;
# TorchServe, Triton; generic) and shapes what NVML shows of its need
# (sim/sim.h Engines): preallocating engines flat at their cap, KV cache
# short instead of OOM; caching allocators at their high-water mark.
#
#   bench/engines.sh [SEEDS [DAYS [WARMUP]]]     (default 5 seeds, 14 days, 3d)
#   GF_BENCH_MODES="engines blind generic"       the runs to make (default all
#                                                three; "engines" alone for a
#                                                change to the engine rules)
#
# The generated 50-node cluster (seed = the run's seed), DAYS days at
# one-minute steps after a WARMUP cold start, every policy on the same
# demand, once per seed; and, side by side, the same mix with the
# recommender not told the engines (--engines=blind: what rightsizing on
# NVML memory does to it, the baseline the engine rules replace), and the
# same cluster and demand without --engines (NVML memory = need for every
# service, the mix bench/quality.sh measures). Prints, as median [min .. max] over the seeds:
#   - upsizes of preallocating engines decided by NVML memory (goal: 0),
#     their upsizes and downsizes (on their KV-cache use);
#   - GPU-hours reserved vs static and / clairvoyant-static;
#   - harm: OOM kills, KV-cache-short pod-minutes and spells, pending;
# then the per-policy table (medians).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
seeds=${1:-5}
days=${2:-14}
warmup=${3:-3d}
build_release
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bin=build-rel/gpufrac
echo "machine: $(machine)"
echo "command: bench/engines.sh $seeds $days $warmup"
echo

lib='
def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
            else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def r(n): . * pow(10; n) | round / pow(10; n);
def spread(n): "\(median | r(n)) [\(min | r(n)) .. \(max | r(n))]";
def pol($n): .policies[] | select(.name == $n);'
goals="$lib"'
"| figure | gpufrac | static | clairvoyant-static | clairvoyant-daily | vpa-style |",
"|---|---:|---:|---:|---:|---:|",
"| engines (preallocating / caching / generic) | \([.[] | .demand_mix.engines.preallocating] | spread(0)) / \([.[] | .demand_mix.engines.high_water] | spread(0)) / \([.[] | .demand_mix.engines.generic] | spread(0)) | | | | |",
"| upsizes of preallocating engines on NVML memory | \([.[] | pol("gpufrac").actions.nvml_only_upsizes] | spread(0)) | 0 | 0 | 0 | - |",
"| preallocating engines: upsizes / downsizes | \([.[] | pol("gpufrac").actions.preallocating_upsizes] | spread(0)) / \([.[] | pol("gpufrac").actions.preallocating_downsizes] | spread(0)) | 0 | | | |",
"| GPU-h reserved vs static | \([.[] | (pol("gpufrac").gpu_hours_reserved / pol("static").gpu_hours_reserved - 1) * 100] | spread(1))% | 0 | \([.[] | (pol("clairvoyant-static").gpu_hours_reserved / pol("static").gpu_hours_reserved - 1) * 100] | spread(1))% | \([.[] | (pol("clairvoyant-daily").gpu_hours_reserved / pol("static").gpu_hours_reserved - 1) * 100] | spread(1))% | \([.[] | (pol("vpa-style").gpu_hours_reserved / pol("static").gpu_hours_reserved - 1) * 100] | spread(1))% |",
"| GPU-h reserved / clairvoyant-static | \([.[] | pol("gpufrac").gpu_hours_reserved / pol("clairvoyant-static").gpu_hours_reserved] | spread(3)) | \([.[] | pol("static").gpu_hours_reserved / pol("clairvoyant-static").gpu_hours_reserved] | spread(3)) | 1 | \([.[] | pol("clairvoyant-daily").gpu_hours_reserved / pol("clairvoyant-static").gpu_hours_reserved] | spread(3)) | \([.[] | pol("vpa-style").gpu_hours_reserved / pol("clairvoyant-static").gpu_hours_reserved] | spread(3)) |",
"| OOM kills | \([.[] | pol("gpufrac").harm.ooms] | spread(0)) | \([.[] | pol("static").harm.ooms] | spread(0)) | \([.[] | pol("clairvoyant-static").harm.ooms] | spread(0)) | \([.[] | pol("clairvoyant-daily").harm.ooms] | spread(0)) | \([.[] | pol("vpa-style").harm.ooms] | spread(0)) |",
"| KV cache short pod-min | \([.[] | pol("gpufrac").harm.kv_starved_minutes] | spread(0)) | \([.[] | pol("static").harm.kv_starved_minutes] | spread(0)) | \([.[] | pol("clairvoyant-static").harm.kv_starved_minutes] | spread(0)) | \([.[] | pol("clairvoyant-daily").harm.kv_starved_minutes] | spread(0)) | \([.[] | pol("vpa-style").harm.kv_starved_minutes] | spread(0)) |",
"| KV cache short spells (preemptions) | \([.[] | pol("gpufrac").harm.preemptions] | spread(0)) | \([.[] | pol("static").harm.preemptions] | spread(0)) | \([.[] | pol("clairvoyant-static").harm.preemptions] | spread(0)) | \([.[] | pol("clairvoyant-daily").harm.preemptions] | spread(0)) | \([.[] | pol("vpa-style").harm.preemptions] | spread(0)) |",
"| pending pod-min | \([.[] | pol("gpufrac").harm.pending_minutes] | spread(0)) | \([.[] | pol("static").harm.pending_minutes] | spread(0)) | \([.[] | pol("clairvoyant-static").harm.pending_minutes] | spread(0)) | \([.[] | pol("clairvoyant-daily").harm.pending_minutes] | spread(0)) | \([.[] | pol("vpa-style").harm.pending_minutes] | spread(0)) |",
"| resizes / workload / day | \([.[] | pol("gpufrac").actions.resizes_per_workload_day] | spread(2)) | 0 | 0 | \([.[] | pol("clairvoyant-daily").actions.resizes_per_workload_day] | spread(2)) | \([.[] | pol("vpa-style").actions.resizes_per_workload_day] | spread(2)) |",
"| GPUs in service (mean) vs static | \([.[] | (pol("gpufrac").gpus.mean / pol("static").gpus.mean - 1) * 100] | spread(1))% | 0 | \([.[] | (pol("clairvoyant-static").gpus.mean / pol("static").gpus.mean - 1) * 100] | spread(1))% | \([.[] | (pol("clairvoyant-daily").gpus.mean / pol("static").gpus.mean - 1) * 100] | spread(1))% | \([.[] | (pol("vpa-style").gpus.mean / pol("static").gpus.mean - 1) * 100] | spread(1))% |"'
table="$lib"'
. as $runs
| ($runs[0].policies | map(.name)) as $names
| "| policy | GPU-h reserved | vs static | GPUs mean | OOM kills | KV short pod-min | KV spells | throttled pod-min | pending pod-min | restarts | resizes/wl/day |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ($names[] as $n
   | [$runs[] | pol($n)] as $p
   | [$runs[] | (pol($n).gpu_hours_reserved / pol("static").gpu_hours_reserved - 1) * 100] as $vs
   | "| \($n) | \([$p[].gpu_hours_reserved] | median | r(0)) | \($vs | median | r(1))% | \([$p[].gpus.mean] | median | r(1)) | \([$p[].harm.ooms] | median) | \([$p[].harm.kv_starved_minutes] | median | r(0)) | \([$p[].harm.preemptions] | median) | \([$p[].harm.throttled_minutes] | median | r(0)) | \([$p[].harm.pending_minutes] | median | r(0)) | \([$p[] | .harm.restarts_resize + .harm.restarts_move] | median) | \([$p[].actions.resizes_per_workload_day] | median | r(2)) |")'

for mode in ${GF_BENCH_MODES:-engines blind generic}; do
  flag=--engines
  [ "$mode" = blind ] && flag=--engines=blind
  [ "$mode" = generic ] && flag=
  for s in $(seq 1 "$seeds"); do
    # shellcheck disable=SC2086
    "$bin" simulate -q -o json --days "$days" --warmup "$warmup" --seed "$s" $flag \
      >"$tmp/$mode-$s.json"
  done
  if [ "$mode" = engines ]; then
    echo "## inference-engine mix (--engines): 50 nodes, $days days after a $warmup warm-up, seeds 1..$seeds"
  elif [ "$mode" = blind ]; then
    echo "## the same mix, the recommender not told the engines (--engines=blind: rightsizing on NVML memory)"
  else
    echo "## the same cluster and demand without --engines (NVML memory = need)"
  fi
  echo
  echo "Median [min .. max] over the seeds."
  echo
  jq -s -r "$goals" "$tmp/$mode"-*.json
  echo
  echo "Every policy (medians):"
  echo
  jq -s -r "$table" "$tmp/$mode"-*.json
  echo
done
