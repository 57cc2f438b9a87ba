#!/usr/bin/env bash
# cli_explain.sh - `gpufrac explain` through the real binary: findings and
# responses with reasons on a small cluster with a memory overrun and a
# compute hog, --gpu, --now, json, policy modes, and usage errors.
# usage: cli_explain.sh GPUFRAC FIXTURES_DIR
set -u
bin=$1 fx=$2
pass=0 fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { ${GF_WRAP:-} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
check() {
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; echo "--- stdout"; head -40 "$tmp/out"; echo "--- stderr"; head -20 "$tmp/err"; fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
out_lacks() { ! grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }
snap=$fx/fairuse/cluster.json usage=$fx/fairuse/usage.csv

# the whole cluster at the newest sample (10:15): chat overruns its memory on
# a nearly full GPU (critical, at once), render hogs the SMs since 10:05
run explain "$snap" --usage "$usage"
check "exit 0" rc_is 0
check "summary" out_has "Fair use at 2026-11-24T10:15:00Z (mode report, hogWindow 5m, response upsize): 2 shared GPUs, 3 findings, 0 responses to apply"
check "overrun" out_has "FINDING memory-overrun [critical] team-a/chat-7f9c8d6b5-x2k4p since 2026-11-24T10:05:00Z"
check "overrun signal" out_has "uses 14.00 GiB, above its allocation 0.25 x 22.46 GiB = 5.62 GiB by 149% (margin 10%)"
check "overrun affects" out_has "affects: team-b/embed-6d5c4b3a2-q9r8s"
check "upsize response" out_has "RESPONSE upsize team-a/chat-7f9c8d6b5-x2k4p to 0.70 -> gpu-b GPU 0 (proposed only)"
check "upsize rule" out_has "rule: the offender team-a/chat-7f9c8d6b5-x2k4p has the lowest priority (0, GPU-mates 100 and up): it yields"
check "victim rejected" out_has "rejected: move team-b/embed-6d5c4b3a2-q9r8s: its priority 100 is above the offender's 0"
check "device full" out_has "FINDING device-memory-full [critical]"
check "hog" out_has "FINDING compute-hog [warning] team-a/render-5b4a39281-m3n4b since 2026-11-24T10:05:00Z"
check "hog signal" out_has "has had 0.85 of the GPU (fair share 0.25, its fraction, mean 0.85 over 5m) for 10m (hogWindow 5m) while team-b/tts-8e7d6c5b4-z7y6x gets 0.10 of its fair 0.50 with the device's SMs saturated (95%)"
check "queue rejects move" out_has "rejected: move team-b/tts-8e7d6c5b4-z7y6x: at equal priority, queue team-b does not make way for queue team-a"
check "no room for upsize" out_has "rejected: upsize team-a/render-5b4a39281-m3n4b: no GPU for fraction 0.95"
check "idle GPU not listed" out_lacks "GPU gpu-b/0"
cp "$tmp/out" "$tmp/first"
run explain "$snap" --usage "$usage"
check "deterministic" diff -q "$tmp/first" "$tmp/out"

# one GPU, even without findings
run explain "$snap" -u "$usage" --gpu gpu-b/0
check "gpu exit 0" rc_is 0
check "gpu idle listed" out_has "GPU gpu-b/0 is idle: nothing shares it, so no fair-use findings apply"
check "gpu others hidden" out_lacks "GPU gpu-a/0"
run explain "$snap" -u "$usage" --gpu gpu-a/1
check "gpu one" out_has "FINDING compute-hog"
check "gpu one only" out_lacks "memory-overrun"
run explain "$snap" -u "$usage" --gpu gpu-a/0 --now 2026-11-24T10:02:00Z
check "gpu quiet" out_has "  no findings"

# earlier: the hog has lasted one minute, the overrun is critical at once
run explain "$snap" -u "$usage" --now 2026-11-24T10:06:00Z
check "now exit 0" rc_is 0
check "now overrun" out_has "FINDING memory-overrun [critical]"
check "now no hog yet" out_lacks "compute-hog"

# json
run explain "$snap" -u "$usage" -o json
check "json exit 0" rc_is 0
check "json valid" bash -c "jq -e '.findings == 3 and (.gpus | length) == 2' '$tmp/out' >/dev/null"
check "json upsize" bash -c "jq -e '[.gpus[].findings[].responses[] | select(.action == \"upsize\")][0] | .new_fraction == 0.7 and .to.node == \"gpu-b\" and .apply == false' '$tmp/out' >/dev/null"
check "json rejected" bash -c "jq -e '[.gpus[].findings[] | select(.kind == \"compute-hog\") | .responses[0].rejected[].why] | length == 2' '$tmp/out' >/dev/null"

# policies: act applies within the rate limit; off still explains
cat >"$tmp/act.yaml" <<'YAML'
apiVersion: gpufrac.io/v1alpha1
kind: RightsizingPolicy
fairUse:
  mode: act
  response: move-victim
  maxActionsPerHour: 5
YAML
run explain "$snap" -u "$usage" -p "$tmp/act.yaml"
check "act exit 0" rc_is 0
check "act applies" out_has "1 responses to apply"
check "act to apply" out_has "(to apply)"
cat >"$tmp/off.yaml" <<'YAML'
apiVersion: gpufrac.io/v1alpha1
kind: RightsizingPolicy
fairUse: {mode: off}
YAML
run explain "$snap" -u "$usage" -p "$tmp/off.yaml"
check "off exit 0" rc_is 0
check "off warns" err_has "fairUse.mode is off; explaining what mode report would find"
check "off still finds" out_has "3 findings"
cat >"$tmp/bad.yaml" <<'YAML'
apiVersion: gpufrac.io/v1alpha1
kind: RightsizingPolicy
fairUse:
  hogWindow: 2d
YAML
run explain "$snap" -u "$usage" -p "$tmp/bad.yaml"
check "bad policy exit 2" rc_is 2
check "bad policy where" err_has "bad.yaml:4:14: fairUse.hogWindow: must be more than 0s and at most 1d, got 2d"

# samples of unknown pods are reported, not fatal
{ cat "$usage"; echo "2026-11-24T10:15:00Z,team-z,ghost-0,main,,1000,0.5"; } >"$tmp/extra.csv"
run explain "$snap" -u "$tmp/extra.csv"
check "unknown pod exit 0" rc_is 0
check "unknown pod warned" err_has "1 samples of pods that share no GPU in the snapshot were skipped (e.g. team-z/ghost-0)"

# usage errors
run explain "$snap"
check "no usage exit 2" rc_is 2
check "no usage message" err_has "--usage FILE is needed"
HOME=$tmp KUBECONFIG= run explain -u "$usage"
check "no snapshot, no cluster: exit 2" rc_is 2
run explain "$snap" -u "$usage" --gpu gpu-a
check "bad gpu exit 2" rc_is 2
check "bad gpu message" err_has "expected NODE/INDEX"
run explain "$snap" -u "$usage" --gpu gpu-a/7
check "unknown gpu exit 2" rc_is 2
check "unknown gpu message" err_has "no GPU with that node and index"
run explain "$snap" -u "$usage" --now yesterday
check "bad now exit 2" rc_is 2
run explain "$snap" -u "$usage" -o xml
check "bad output exit 2" rc_is 2
printf 'timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util\nnope,a,b,,,1,0.1\n' >"$tmp/bad.csv"
run explain "$snap" -u "$tmp/bad.csv"
check "bad csv exit 2" rc_is 2
run explain --help
check "help exit 0" rc_is 0
check "help text" out_has "usage: gpufrac explain"

# an engine configured to take more than its share is a finding with its fix
printf 'timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util\n1795507200,serving,vllm-flag-0,server,,4294967296,0.3\n' >"$tmp/eng.csv"
run explain --usage "$tmp/eng.csv" --now 1795507260 "$fx/engines/pods.json"
check "engine overrun: exit 0" rc_is 0
check "engine overrun: listed with its fix" out_has 'serving/tgi-default-0: tgi --cuda-memory-fraction 1 (its default) takes 1.00 of the GPU'"'"'s memory but holds a 0.25 fraction: set --cuda-memory-fraction=$(GPU_PORTION) (or 0.25)'

echo "cli_explain: $pass passed, $fail failed"
[ "$fail" = 0 ]
