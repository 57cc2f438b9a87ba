#!/usr/bin/env bash
# convert.sh - what converting whole-GPU workloads onto KAI fractions
# (decide/convert.h) saves, and what it costs, in the simulator.
#
#   bench/convert.sh [SEEDS [DAYS]]      (default 5 seeds, 4 days)
#
# The generated 50-node cluster (gen-snapshot's, seed = the run's seed)
# simulated DAYS days at one-minute steps, once per seed 1..SEEDS, with the
# builtin demand mix and with the Azure LLM inference trace
# (../shared/data/azure-llm-inference-2023, conversation trace) laid onto
# every service; whole-GPU pods of Deployments and StatefulSets draw their
# demand from the same mix against one whole GPU per device. Four rows on
# the same seeds: one-gpu-per-container and static (the declared requests),
# gpufrac with convert.fromWholeGpu off (rightsizing only) and gpufrac with
# the built-in policy (conversion after convert.minHistory 1d, up to
# maxFractionForConversion 0.75). Per row: the median over seeds and the
# range [min..max] of GPU-hours reserved, mean GPUs in service, OOM kills,
# throttled and pending pod-minutes, restarts; and how many of the
# whole-GPU services were converted. The first day is history only (no
# conversion can happen before minHistory), so short runs understate it.
# Runs `nice -n 10`: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
seeds=${1:-5}
days=${2:-4}
trace=${GF_SHARED_DATA:-../shared/data}/azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv
[ -r "$trace" ] || { echo "bench: $trace not found" >&2; exit 2; }
bin=${GPUFRAC_BIN:-build-rel/gpufrac}
[ -x "$bin" ] || build_release
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\ndefaults:\n  convert:\n    fromWholeGpu: off\n' >"$tmp/noconv.yaml"
echo "machine: $(machine)"
echo "binary: $bin"
echo

# jq over [{on: run, off: run}] per seed: rows with median and range
table='
def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def r(n): . * pow(10; n) | round / pow(10; n);
def cell(n): "\(median | r(n)) [\(min | r(n))..\(max | r(n))]";
def pol($run; $name): $run.policies[] | select(.name == $name);
. as $seeds
| [ ["one-gpu-per-container", "on", "one-gpu-per-container"], ["static", "on", "static"],
    ["gpufrac, no conversion", "off", "gpufrac"], ["gpufrac + conversion", "on", "gpufrac"] ] as $rows
| "| policy | GPU-h reserved | GPUs mean | OOM kills | throttled pod-min | pending pod-min | restarts | whole-GPU services converted |",
  "|---|---:|---:|---:|---:|---:|---:|---:|",
  ($rows[] as $row
   | [$seeds[] | pol(.[$row[1]]; $row[2])] as $p
   | "| \($row[0]) | \([$p[].gpu_hours_reserved] | cell(0)) | \([$p[].gpus.mean] | cell(1)) | \([$p[].harm.ooms] | cell(0)) | \([$p[].harm.throttled_minutes] | cell(0)) | \([$p[].harm.pending_minutes] | cell(0)) | \([$p[] | .harm.restarts_resize + .harm.restarts_move] | cell(0)) | \(if $row[0] == "gpufrac + conversion" then "\([$seeds[] | .on.simulation.whole_gpu_services] | add) services, \([$p[].actions.conversions] | add) converted (\(([$p[].actions.conversions] | add) / ([$seeds[] | .on.simulation.whole_gpu_services] | add) * 100 | round)%)" else "-" end) |")'

# per seed: conversion vs none, GPU-hours reserved and mean GPUs in service
delta='
def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def r(n): . * pow(10; n) | round / pow(10; n);
def cell: "\(median | r(1))% [\(min | r(1))..\(max | r(1))]";
def g($run): $run.policies[] | select(.name == "gpufrac");
"gpufrac + conversion vs gpufrac without, per seed: GPU-h reserved \([.[] | (g(.on).gpu_hours_reserved / g(.off).gpu_hours_reserved - 1) * 100] | cell), mean GPUs in service \([.[] | (g(.on).gpus.mean / g(.off).gpus.mean - 1) * 100] | cell)"'

for source in builtin azure; do
  demand=builtin
  [ "$source" = azure ] && demand="azure:$trace"
  for s in $(seq 1 "$seeds"); do
    for v in on off; do
      pol=()
      [ "$v" = off ] && pol=(--policy "$tmp/noconv.yaml")
      nice -n 10 "$bin" simulate -q -o json --days "$days" --seed "$s" --demand "$demand" \
        --policies one-gpu-per-container,static,gpufrac "${pol[@]}" >"$tmp/$source-$s-$v.json"
    done
    jq -n --slurpfile on "$tmp/$source-$s-on.json" --slurpfile off "$tmp/$source-$s-off.json" \
      '{on: $on[0], off: $off[0]}' >"$tmp/$source-seed$s.json"
  done
  echo "## $source demand: 50 nodes, $days days, seeds 1..$seeds (median [min..max])"
  echo
  jq -s -r "$table" "$tmp/$source"-seed*.json
  echo
  jq -s -r "$delta" "$tmp/$source"-seed*.json
  echo
done
