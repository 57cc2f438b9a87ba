#!/usr/bin/env bash
# simulate.sh - `gpufrac simulate`: the policy comparison on the builtin mix
# and on the Azure-trace-driven mix, and the simulator's speed.
#
#   bench/simulate.sh [SEEDS [DAYS]]      (default 5 seeds, 30 days)
#
# Comparison: the generated 50-node cluster (gen-snapshot's, seed = the
# run's seed) simulated DAYS days at one-minute steps under every policy,
# once per seed 1..SEEDS, with builtin demand and with the Azure LLM
# inference trace (../shared/data/azure-llm-inference-2023, conversation
# trace) laid onto every service. Per policy, the median over the seeds of:
# GPU-hours reserved by the services and its change vs static (per seed,
# then the median), mean GPUs and nodes in service, OOM kills, throttled and
# pending pod-minutes, restarts (resizes + moves), resizes per workload per
# day.
# Speed: the default run (50 nodes, 7 days, 5 policies) and a 200-node week,
# each timed 3 times (median wall and CPU seconds), as simulated
# workload-days (services x days x policies) per CPU second.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
seeds=${1:-5}
days=${2:-30}
trace=${GF_SHARED_DATA:-../shared/data}/azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv
[ -r "$trace" ] || { echo "bench: $trace not found" >&2; exit 2; }
build_release
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bin=build-rel/gpufrac
echo "machine: $(machine)"
echo

# jq: per policy, medians over the runs given (slurped), as a markdown table
table='
def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
            else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def r(n): . * pow(10; n) | round / pow(10; n);
. as $runs
| ($runs[0].policies | map(.name)) as $names
| "| policy | GPU-h reserved | vs static | GPUs mean | nodes mean | OOM kills | throttled pod-min | pending pod-min | restarts | resizes/wl/day |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ($names[] as $n
   | [$runs[] | .policies[] | select(.name == $n)] as $p
   | [$runs[] | (.policies | map(select(.name == "static"))[0].gpu_hours_reserved) as $s
               | (.policies[] | select(.name == $n) | .gpu_hours_reserved / $s - 1) * 100] as $vs
   | "| \($n) | \([$p[].gpu_hours_reserved] | median | r(0)) | \($vs | median | r(1) | if . > 0 then "+\(.)" else "\(.)" end)% | \([$p[].gpus.mean] | median | r(1)) | \([$p[].nodes.mean] | median | r(1)) | \([$p[].harm.ooms] | median) | \([$p[].harm.throttled_minutes] | median | r(0)) | \([$p[].harm.pending_minutes] | median | r(0)) | \([$p[] | .harm.restarts_resize + .harm.restarts_move] | median) | \(if ($n == "gpufrac" or $n == "vpa-style") then ([$p[].actions.resizes_per_workload_day] | median | r(2)) else "-" end) |")'
mix='def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
"demand mix (median over seeds): \([.[].demand_mix.full_share] | median * 100 | round)% of containers use their full GPU, median use \([.[].demand_mix.median_use] | median * 100 | round / 100) of the allocation, \([.[].demand_mix.over_share] | median * 100 | round)% exceed it at some point; \(.[0].simulation.services) services, \(.[0].simulation.service_pods) pods, \(.[0].simulation.gpus) GPUs (seed 1)"'

for source in builtin azure; do
  demand=builtin
  [ "$source" = azure ] && demand="azure:$trace"
  for s in $(seq 1 "$seeds"); do
    "$bin" simulate -q -o json --days "$days" --seed "$s" --demand "$demand" >"$tmp/$source-$s.json"
  done
  echo "## $source demand: 50 nodes, $days days, seeds 1..$seeds (medians)"
  echo
  jq -s -r "$mix" "$tmp/$source"-*.json
  echo
  jq -s -r "$table" "$tmp/$source"-*.json
  echo
done

echo "## speed (Release, 5 policies)"
echo
echo "| run | services | pods | wall s (median of 3) | CPU s | peak RSS MiB | workload-days / CPU s | pod-days / CPU s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for nodes in 50 200; do
  "$bin" simulate -q -o json --nodes "$nodes" >"$tmp/speed.json"
  svc=$(jq .simulation.services "$tmp/speed.json")
  pods=$(jq .simulation.service_pods "$tmp/speed.json")
  read -r wall _ _ rss cpu < <(measure 3 "$bin" simulate -q --nodes "$nodes")
  awk -v n="$nodes" -v s="$svc" -v p="$pods" -v w="$wall" -v c="$cpu" -v r="$rss" 'BEGIN {
    printf "| %d nodes, 7 days | %d | %d | %.2f | %.2f | %d | %.0f | %.0f |\n",
           n, s, p, w, c, r, s * 7 * 5 / c, p * 7 * 5 / c }'
done
