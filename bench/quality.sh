#!/usr/bin/env bash
# quality.sh - decision quality against the best achievable answers (issue
# "Decision quality"): gpufrac vs static and the clairvoyant bounds.
#
#   bench/quality.sh [SEEDS [DAYS [WARMUP]]]     (default 5 seeds, 14 days, 3d)
#
# The generated 50-node cluster (seed = the run's seed), DAYS days at
# one-minute steps after a WARMUP cold start (history collected, nothing
# resized; every figure counts from its end), every policy on the same
# demand, once per seed, with builtin demand and with the Azure LLM
# inference trace (../shared/data/azure-llm-inference-2023, conversation
# trace). Per seed and policy it keeps the JSON; it prints, per mix, the
# goals' figures as median [min .. max] over the seeds:
#   - gpufrac's GPU-hours reserved / clairvoyant-static's (goal <= 1.05);
#   - OOM kills and pending pod-minutes, gpufrac and static (goal: gpufrac's
#     no higher than static's);
#   - gpufrac's resizes per workload per day (goal <= 1);
#   - mean GPUs in service, gpufrac below static (goal >= 20%);
#   - Azure: gpufrac's saving vs static beside clairvoyant-static's (goal: at
#     least as large, with 0 OOM kills);
# then the whole per-policy table (medians).
# GF_QUALITY_POLICY=FILE gives gpufrac's policy (simulate -p FILE), e.g. to
# measure a rule that is off by default (bench/policies/); GF_QUALITY_ARGS:
# more simulate options, e.g. '--chat-quota 1.5' (the generated "chat" queue
# funded like the others instead of cut below its use).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
seeds=${1:-5}
days=${2:-14}
warmup=${3:-3d}
trace=${GF_SHARED_DATA:-../shared/data}/azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv
[ -r "$trace" ] || { echo "bench: $trace not found" >&2; exit 2; }
build_release
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bin=build-rel/gpufrac
echo "machine: $(machine)"
echo "command: ${GF_QUALITY_POLICY:+GF_QUALITY_POLICY=$GF_QUALITY_POLICY }${GF_QUALITY_ARGS:+GF_QUALITY_ARGS='$GF_QUALITY_ARGS' }bench/quality.sh $seeds $days $warmup"
echo

lib='
def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
            else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def r(n): . * pow(10; n) | round / pow(10; n);
def spread(n): "\(median | r(n)) [\(min | r(n)) .. \(max | r(n))]";
def pol($n): .policies[] | select(.name == $n);'
goals="$lib"'
"| figure | gpufrac | static | clairvoyant-static | goal |",
"|---|---:|---:|---:|---|",
"| GPU-h reserved / clairvoyant-static | \([.[] | pol("gpufrac").gpu_hours_reserved / pol("clairvoyant-static").gpu_hours_reserved] | spread(3)) | \([.[] | pol("static").gpu_hours_reserved / pol("clairvoyant-static").gpu_hours_reserved] | spread(3)) | 1 | gpufrac <= 1.05 |",
"| GPU-h reserved vs static | \([.[] | (pol("gpufrac").gpu_hours_reserved / pol("static").gpu_hours_reserved - 1) * 100] | spread(1))% | 0 | \([.[] | (pol("clairvoyant-static").gpu_hours_reserved / pol("static").gpu_hours_reserved - 1) * 100] | spread(1))% | Azure: gpufrac <= clairvoyant-static |",
"| OOM kills | \([.[] | pol("gpufrac").harm.ooms] | spread(0)) | \([.[] | pol("static").harm.ooms] | spread(0)) | \([.[] | pol("clairvoyant-static").harm.ooms] | spread(0)) | gpufrac <= static (Azure: 0) |",
"| pending pod-min | \([.[] | pol("gpufrac").harm.pending_minutes] | spread(0)) | \([.[] | pol("static").harm.pending_minutes] | spread(0)) | \([.[] | pol("clairvoyant-static").harm.pending_minutes] | spread(0)) | gpufrac <= static |",
"| resizes / workload / day | \([.[] | pol("gpufrac").actions.resizes_per_workload_day] | spread(2)) | 0 | 0 | gpufrac <= 1 |",
"| GPUs in service (mean) vs static | \([.[] | (pol("gpufrac").gpus.mean / pol("static").gpus.mean - 1) * 100] | spread(1))% | 0 | \([.[] | (pol("clairvoyant-static").gpus.mean / pol("static").gpus.mean - 1) * 100] | spread(1))% | gpufrac <= -20% |"'
table="$lib"'
. as $runs
| ($runs[0].policies | map(.name)) as $names
| "| policy | GPU-h reserved | vs static | GPUs mean | nodes mean | OOM kills | throttled pod-min | pending pod-min | restarts | resizes/wl/day |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ($names[] as $n
   | [$runs[] | pol($n)] as $p
   | [$runs[] | (pol($n).gpu_hours_reserved / pol("static").gpu_hours_reserved - 1) * 100] as $vs
   | "| \($n) | \([$p[].gpu_hours_reserved] | median | r(0)) | \($vs | median | r(1))% | \([$p[].gpus.mean] | median | r(1)) | \([$p[].nodes.mean] | median | r(1)) | \([$p[].harm.ooms] | median) | \([$p[].harm.throttled_minutes] | median | r(0)) | \([$p[].harm.pending_minutes] | median | r(0)) | \([$p[] | .harm.restarts_resize + .harm.restarts_move] | median) | \([$p[].actions.resizes_per_workload_day] | median | r(2)) |")'

for source in builtin azure; do
  demand=builtin
  [ "$source" = azure ] && demand="azure:$trace"
  for s in $(seq 1 "$seeds"); do
    "$bin" simulate -q -o json --days "$days" --warmup "$warmup" --seed "$s" --demand "$demand" \
      ${GF_QUALITY_POLICY:+-p "$GF_QUALITY_POLICY"} ${GF_QUALITY_ARGS:-} >"$tmp/$source-$s.json"
  done
  echo "## $source demand: 50 nodes, $days days after a $warmup warm-up, seeds 1..$seeds"
  echo
  echo "Goals: median [min .. max] over the seeds."
  echo
  jq -s -r "$goals" "$tmp/$source"-*.json
  echo
  echo "Every policy (medians):"
  echo
  jq -s -r "$table" "$tmp/$source"-*.json
  echo
done
