#!/usr/bin/env bash
# cli_simulate.sh - `gpufrac simulate` through the real binary: the policy
# table and JSON, determinism per seed, the three demand sources, the HTML
# report, and bad options and inputs (exit 2, naming file and line).
#   usage: cli_simulate.sh GPUFRAC FIXTURES_DIR
set -u
bin=$1 fx=$2
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { ${GF_WRAP:-} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
check() {
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; echo "--- stdout"; head -30 "$tmp/out"; echo "--- stderr"; head -20 "$tmp/err"; fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }
err_empty() { [ ! -s "$tmp/err" ]; }
jq_ok() { jq -e "$1" "$tmp/out" >/dev/null; }

small=(--nodes 12 --days 1)

run simulate --help
check "help exit 0" rc_is 0
check "help names the demand sources" out_has "azure:PATH"
check "help names exit codes" out_has "exit codes"

# the policy table
run simulate "${small[@]}"
check "table exit 0" rc_is 0
for p in one-gpu-per-container static vpa-style gpufrac clairvoyant-static clairvoyant-daily oracle; do
  check "table row $p" out_has "$p"
done
check "table header" out_has "GPU-HOURS"
check "table mix line" out_has "use their full GPU"
check "table per workload" out_has "Per workload under gpufrac"
check "no progress bar when stderr is not a terminal" err_empty

# JSON: every policy, the oracle reserves least, determinism
run simulate "${small[@]}" -o json
check "json exit 0" rc_is 0
check "json seven policies" jq_ok '.policies | length == 7'
check "json names" jq_ok '[.policies[].name] == ["one-gpu-per-container","static","vpa-style","gpufrac","clairvoyant-static","clairvoyant-daily","oracle"]'
check "json clairvoyant-static never resizes, no OOM" jq_ok '.policies[4].actions.resizes == 0 and .policies[4].harm.ooms == 0'
check "json clairvoyant-static below static" jq_ok '.policies[4].gpu_hours_reserved < .policies[1].gpu_hours_reserved'
check "json oracle is the lower bound" jq_ok '(.policies | map(select(.name == "oracle"))[0].gpu_hours_reserved) as $o | all(.policies[]; .gpu_hours_reserved >= $o)'
check "json harm fields" jq_ok '.policies[0].harm | has("ooms") and has("throttled_minutes") and has("pending_minutes") and has("restarts_resize") and has("restarts_move")'
check "json gpus and nodes" jq_ok '.policies[1].gpus.peak >= .policies[1].gpus.mean and .policies[1].nodes.mean > 0'
check "json resizes per workload per day" jq_ok '.policies[3].actions | has("resizes_per_workload_day")'
check "json demand mix" jq_ok '.demand_mix.full_share > 0 and .demand_mix.median_use < 1'
check "json simulation" jq_ok '.simulation.steps == 1440 and .simulation.seed == 1 and .simulation.demand == "builtin"'
check "json workloads: one per service" jq_ok '(.workloads | length) == .simulation.services'
check "json workloads: the table's fields" jq_ok 'all(.workloads[]; has("name") and has("declared") and has("final") and has("peak_use") and has("headroom") and (.risk | IN("low","medium","high")) and has("saved_gpu_hours") and .policy == "gpufrac")'
check "json workloads add up to gpufrac's totals" jq_ok '(.policies[] | select(.name == "gpufrac")) as $g | ((([.workloads[].gpu_hours_reserved] | add) - $g.gpu_hours_reserved) | fabs < 0.01) and ([.workloads[].harm.ooms] | add) == $g.harm.ooms'
check "json workloads by saving" jq_ok '[.workloads[].saved_gpu_hours] as $s | $s == ($s | sort | reverse)'
cp "$tmp/out" "$tmp/first.json"
run simulate "${small[@]}" -o json
check "same seed, same JSON" cmp -s "$tmp/out" "$tmp/first.json"
run simulate "${small[@]}" -o json --seed 2
check "seed 2 runs" rc_is 0
check "another seed, other JSON" bash -c "! cmp -s '$tmp/out' '$tmp/first.json'"

# cold start: --days after --warmup, figures from its end
run simulate "${small[@]}" -o json --policies static --warmup 12h
check "warmup exit 0" rc_is 0
check "warmup adds to the run" jq_ok '.simulation.steps == 2160'
check "warmup: figures count the measured day only" bash -c "jq -e --slurpfile a '$tmp/first.json' '(.policies[0].gpu_hours_reserved - (\$a[0].policies[1].gpu_hours_reserved)) | fabs < (\$a[0].policies[1].gpu_hours_reserved * 0.2)' '$tmp/out' >/dev/null"
run simulate "${small[@]}" --warmup 5x
check "bad --warmup exit 2" rc_is 2
check "bad --warmup named" err_has "--warmup: '5x'"

# engines: off by default (every service generic), --engines finds them in the pod specs
run simulate "${small[@]}" -o json --policies static,gpufrac
check "engines off by default" jq_ok '.demand_mix.engines.preallocating == 0 and .demand_mix.engines.high_water == 0'
check "kv harm in JSON" jq_ok '.policies[0].harm | has("kv_starved_minutes") and has("preemptions")'
run simulate "${small[@]}" -o json --policies static,gpufrac --engines
check "engines exit 0" rc_is 0
check "engines found" jq_ok '.demand_mix.engines.preallocating > 0 and .demand_mix.engines.high_water > 0'
check "engines: no upsize on NVML memory" jq_ok '.policies[1].actions.nvml_only_upsizes == 0'
run simulate "${small[@]}" -o json --policies static,gpufrac --engines=blind
check "engines=blind: the recommender upsizes on NVML memory" jq_ok '.policies[1].actions.nvml_only_upsizes > 0'
run simulate "${small[@]}" --engines=bogus
check "bad --engines exit 2" rc_is 2
check "bad --engines named" err_has "--engines=bogus"
run simulate "${small[@]}" --policies static --engines
check "engines line in the table" out_has "preallocating (vLLM-like)"

# a subset of policies, a coarser step, another scorer
run simulate "${small[@]}" -o json --policies static,gpufrac --step 5m --scorer bestfit
check "subset exit 0" rc_is 0
check "subset two policies" jq_ok '[.policies[].name] == ["static","gpufrac"]'
check "step 5m" jq_ok '.simulation.steps == 288 and .simulation.step_seconds == 300'

# the report
run simulate "${small[@]}" -q --report "$tmp/r.html"
check "report exit 0" rc_is 0
check "report written" [ -s "$tmp/r.html" ]
check "report svg" grep -q '<svg id="fleet-alloc"' "$tmp/r.html"
check "report heat-map" grep -q 'id="heatmap-svg"' "$tmp/r.html"
check "report savings" grep -q 'data-policy="gpufrac"' "$tmp/r.html"
run simulate "${small[@]}" -q -o json --report "$tmp/r.html"
check "report and json together" rc_is 0
check "report: a table row per workload of the JSON" bash -c "[ \"\$(grep -o '<tr class=\"workload\" data-name=\"[^\"]*\"' '$tmp/r.html' | sed 's/.*data-name=\"//; s/\"\$//' | sort)\" = \"\$(jq -r '.workloads[].name' '$tmp/out' | sort)\" ]"
check "report: harm over time per policy" bash -c "[ \$(grep -o '<svg id=\"harm-[a-z-]*\"' '$tmp/r.html' | wc -l) -eq 6 ]"
check "report has no scripts" bash -c "! grep -qi '<script' '$tmp/r.html'"
check "report still prints the table" out_has "oracle"
# KAI queue quota: the generated queue "chat" was cut below what it holds
# (sim/gen.c add_queues): gpufrac's non-preemptible upsizes there are not
# applied, counted and listed in the text, JSON and HTML reports
run simulate --nodes 50 --days 2 -q -o json --policies static,gpufrac --report "$tmp/q.html"
check "quota: exit 0" rc_is 0
check "quota: blocked upsizes counted, the service and its queue listed" jq_ok '.policies[] | select(.name == "gpufrac") | .quota_blocked.upsizes > 0 and .quota_blocked.services[0].queue == "chat" and (.quota_blocked.services[0].service | startswith("team-chat/")) and .quota_blocked.services[0].allocated_gpus + .quota_blocked.services[0].delta_gpus > .quota_blocked.services[0].quota_gpus'
check "quota: static never upsizes, nothing blocked" jq_ok '.policies[] | select(.name == "static") | .quota_blocked.upsizes == 0'
check "quota: the report's section" grep -q '<section id="quota"><h2>Upsizes blocked by KAI queue quota' "$tmp/q.html"
check "quota: the report lists the service" grep -q 'team-chat/Deployment/' "$tmp/q.html"
# --chat-quota 1.5 funds "chat" as the other queues: nothing blocked
run simulate --nodes 50 --days 2 -q -o json --policies static,gpufrac --chat-quota 1.5
check "chat-quota: exit 0" rc_is 0
check "chat-quota 1.5: no upsize blocked" jq_ok '.policies[] | select(.name == "gpufrac") | .quota_blocked.upsizes == 0'
run simulate --nodes 50 --days 1 -q --chat-quota 11
check "chat-quota out of range: exit 2" rc_is 2
check "chat-quota out of range: named" err_has "--chat-quota '11'"
# consolidation's cadence and drain cap: hourly, 4 nodes by default
run simulate "${small[@]}" -q -o json --policies gpufrac --consolidate-every 2h
check "consolidate-every 2h: exit 0" rc_is 0
check "consolidate-every 2h: 11 in a day" jq_ok '.policies[0].actions.consolidations == 11'
run simulate "${small[@]}" -q -o json --policies gpufrac --consolidate-every 0s
check "consolidate-every 0s: never" jq_ok '.policies[0].actions.consolidations == 0 and .policies[0].actions.nodes_drained == 0'
run simulate --nodes 50 --days 1 -q -o json --policies vpa-style --chat-quota 1.5 --consolidate-max-nodes 0
check "consolidate-max-nodes 0: no cap" jq_ok '.policies[0].consolidation.drains_capped == 0 and .policies[0].actions.nodes_drained > 1'
run simulate --nodes 50 --days 1 -q -o json --policies vpa-style --chat-quota 1.5 --consolidate-max-nodes 1
check "consolidate-max-nodes 1: drains capped" jq_ok '.policies[0].consolidation.drains_capped > 0'
run simulate "${small[@]}" --consolidate-every 2y
check "consolidate-every bad: exit 2" rc_is 2
check "consolidate-every bad: named" err_has "--consolidate-every: '2y'"
run simulate "${small[@]}" --consolidate-max-nodes -1
check "consolidate-max-nodes bad: exit 2" rc_is 2
check "consolidate-max-nodes bad: named" err_has "--consolidate-max-nodes '-1'"
run simulate "${small[@]}" -q --report "$tmp/no/such/dir/r.html"
check "report unwritable exit 1" rc_is 1
check "report unwritable named" err_has "$tmp/no/such/dir/r.html"

# Azure trace demand (the excerpt; the whole trace is bench/simulate.sh's)
run simulate "${small[@]}" -o json --demand "azure:$fx/azure/conv_excerpt.csv"
check "azure exit 0" rc_is 0
check "azure demand named" jq_ok ".simulation.demand == \"azure:$fx/azure/conv_excerpt.csv\""
check "azure seven policies" jq_ok '.policies | length == 7'

# recorded usage (the CSV `gpufrac recommend --usage` reads)
start=1795507200
awk -v start=$start 'BEGIN {
  G = 1073741824
  print "timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util"
  for (i = 0; i <= 1500; i++) {
    t = start + i * 60
    printf "%d,team-a,llm-chat-7d9f8b6c5d-x2lqf,server,GPU-a,%.0f,0.08\n", t, 2 * G
    printf "%d,team-a,embedder-5f6c7d8e9a-p0d7z,embed,GPU-a,%.0f,\n", t, 6 * G
    printf "%d,team-x,stray-pod,c,GPU-z,%.0f,0.1\n", t, G
  }
}' >"$tmp/usage.csv"
run simulate --cluster "$fx/kai-small.json" --days 1 --demand "csv:$tmp/usage.csv" -o json
check "csv exit 0" rc_is 0
check "csv unmatched warned" err_has "samples of pods outside the cluster's GPU services skipped"
check "csv idle services warned" err_has "services have no samples"
check "csv embedder upsized by gpufrac" jq_ok '.policies[] | select(.name == "gpufrac") | .actions.upsizes >= 1'
check "csv static OOMs on the embedder" jq_ok '.policies[] | select(.name == "static") | .harm.ooms > 0'
run simulate --cluster "$fx/kai-small.json" --days 1 --demand "csv:$tmp/usage.csv" -q
check "csv quiet" err_empty

# bad options: exit 2, naming the option
run simulate --days 0
check "days 0 exit 2" rc_is 2
check "days named" err_has "--days"
run simulate --days 400
check "days 400 exit 2" rc_is 2
run simulate --step 5x
check "bad step exit 2" rc_is 2
check "bad step named" err_has "--step"
run simulate --step 2h
check "step over 1h exit 2" rc_is 2
run simulate --demand nonsense
check "bad demand exit 2" rc_is 2
check "bad demand named" err_has "builtin, azure:PATH or csv:PATH"
run simulate --demand "csv:$tmp/usage.csv"
check "csv without cluster exit 2" rc_is 2
check "csv without cluster says why" err_has "--cluster"
run simulate --cluster "$fx/kai-small.json" --nodes 5
check "cluster and nodes exit 2" rc_is 2
run simulate --policies static,nope
check "bad policies exit 2" rc_is 2
check "bad policies named" err_has "unknown policy 'nope'"
run simulate -o xml
check "bad output exit 2" rc_is 2
run simulate --nodes abc
check "bad nodes exit 2" rc_is 2
run simulate --seed -1
check "bad seed exit 2" rc_is 2
run simulate stray
check "positional exit 2" rc_is 2
run simulate --scorer nope
check "bad scorer exit 2" rc_is 2
run simulate --bogus
check "unknown option exit 2" rc_is 2

# bad inputs: exit 2 with file:line
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.0,12x,3\n' >"$tmp/bad-trace.csv"
run simulate "${small[@]}" --demand "azure:$tmp/bad-trace.csv"
check "bad trace exit 2" rc_is 2
check "bad trace file:line" err_has "bad-trace.csv:3: column ContextTokens"
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,0,0\n' >"$tmp/idle-trace.csv"
run simulate "${small[@]}" --demand "azure:$tmp/idle-trace.csv"
check "tokenless trace exit 2" rc_is 2
check "tokenless trace named" err_has "idle-trace.csv"
run simulate "${small[@]}" --demand "azure:$tmp/missing.csv"
check "missing trace exit 1" rc_is 1
check "missing trace named" err_has "missing.csv"
printf 'timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util\n1795507200,team-a,p,c,g,-5,0.1\n' >"$tmp/bad-usage.csv"
run simulate --cluster "$fx/kai-small.json" --demand "csv:$tmp/bad-usage.csv"
check "bad usage exit 2" rc_is 2
check "bad usage file:line" err_has "bad-usage.csv:2"
printf 'timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util\n1795507200,nobody,p,c,g,5,0.1\n' >"$tmp/foreign.csv"
run simulate --cluster "$fx/kai-small.json" --demand "csv:$tmp/foreign.csv"
check "foreign usage exit 2" rc_is 2
check "foreign usage named" err_has "foreign.csv"
printf 'apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\ndefaults:\n  headroom: -1\n' >"$tmp/bad.yaml"
run simulate "${small[@]}" --policy "$tmp/bad.yaml"
check "bad policy exit 2" rc_is 2
check "bad policy file:line" err_has "bad.yaml:4"
run simulate --cluster "$tmp/missing.json"
check "missing cluster fails" bash -c "[ \"\$(cat '$tmp/rc')\" != 0 ]"
check "missing cluster named" err_has "missing.json"

# a policy that turns rightsizing off: gpufrac resizes nothing
printf 'apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\ndefaults:\n  mode: "off"\n' >"$tmp/off.yaml"
run simulate "${small[@]}" -o json --policy "$tmp/off.yaml"
check "policy off exit 0" rc_is 0
check "policy off: no gpufrac resizes" jq_ok '.policies[] | select(.name == "gpufrac") | .actions.resizes == 0 and .actions.rightsized_workloads == 0'

# --history / --snapshot: the gpufrac policy's usage history in SQLite and the
# simulated cluster, which `gpufrac recommend` reads like a real cluster's
run simulate "${small[@]}" --history "$tmp/sim.db" --snapshot "$tmp/sim.json"
check "history exit 0" rc_is 0
check "history written" [ -s "$tmp/sim.db" ]
check "snapshot is a List" bash -c "jq -e '.kind == \"List\" and (.items | length) > 0' '$tmp/sim.json' >/dev/null"
# the cluster as declared: every pod's KAI GPU group agrees with its node and
# reservation pods (the simulator's own model, after the runs moved its pods,
# did not: "no GPU left on node ... for group")
run inspect "$tmp/sim.json"
check "snapshot: inspect reads it" rc_is 0
check "snapshot: no warning" bash -c "! grep -q 'warning' '$tmp/err'"
check "snapshot: no spare node" bash -c "! jq -e '.items[] | select(.kind == \"Node\" and (.metadata.name | contains(\"-spare-\")))' '$tmp/sim.json' >/dev/null"
run recommend -q -o json --history "$tmp/sim.db" "$tmp/sim.json"
check "recommend reads it" rc_is 0
check "recommend has data" jq_ok '[.recommendations[] | select(.action != "no-data")] | length > 0'
run simulate "${small[@]}" --policies static,oracle --history "$tmp/none.db"
check "history needs gpufrac" rc_is 2
check "history needs gpufrac message" err_has "needs the gpufrac policy"
run simulate "${small[@]}" --snapshot /nonexistent-dir/x.json
check "snapshot unwritable exit 1" rc_is 1

# --fair-use: a noisy pod on a shared GPU (render, 0.25, keeps 0.9 of the
# SMs from minute 60; its GPU-mate tts wants 0.45 of 0.5) with protection
# off and on
awk 'BEGIN {
  G = 1073741824; start = 1795507200
  print "timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util"
  for (i = 0; i <= 180; i++) {
    t = start + i * 60
    printf "%d,team-a,chat-7f9c8d6b5-x2k4p,main,GPU-a0,%.0f,0.2\n", t, 4 * G
    printf "%d,team-b,embed-6d5c4b3a2-q9r8s,main,GPU-a0,%.0f,0.4\n", t, 8 * G
    printf "%d,team-a,render-5b4a39281-m3n4b,main,GPU-a1,%.0f,%s\n", t, 3 * G, i < 60 ? "0.05" : "0.9"
    printf "%d,team-b,tts-8e7d6c5b4-z7y6x,main,GPU-a1,%.0f,0.45\n", t, 6 * G
  }
}' >"$tmp/noisy.csv"
noisy=(--cluster "$fx/fairuse/cluster.json" --demand "csv:$tmp/noisy.csv" --days 0.125
       --policies static -q -o json)
run simulate "${noisy[@]}" --fair-use off
check "fair-use off exit 0" rc_is 0
check "fair-use off: tts slowed, no action" jq_ok '.policies[0] | .harm.neighbour_slowed_minutes >= 100 and .actions.fairuse_actions == 0'
cp "$tmp/out" "$tmp/fair_off.json"
run simulate "${noisy[@]}" --fair-use act
check "fair-use act exit 0" rc_is 0
check "fair-use act: one action" jq_ok '.policies[0].actions.fairuse_actions == 1'
check "fair-use act: neighbours' harm cut" bash -c "[ \$(jq '.policies[0].harm.neighbour_slowed_minutes' '$tmp/out') -lt \$(jq '.policies[0].harm.neighbour_slowed_minutes / 10' '$tmp/fair_off.json') ]"
printf 'apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\nfairUse:\n  mode: act\n' >"$tmp/act.yaml"
run simulate "${noisy[@]}" --policy "$tmp/act.yaml"
check "fairUse.mode act protects" jq_ok '.policies[0].actions.fairuse_actions == 1'
run simulate "${noisy[@]}" --policy "$tmp/act.yaml" --fair-use report
check "--fair-use report overrides the policy" jq_ok '.policies[0].actions.fairuse_actions == 0'
run simulate "${small[@]}" --fair-use sometimes
check "bad --fair-use exit 2" rc_is 2
check "bad --fair-use named" err_has "--fair-use 'sometimes'"
run simulate "${small[@]}" -q --fair-use act
check "table shows fair-use actions" out_has "fair-use actions"

echo "cli_simulate: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
