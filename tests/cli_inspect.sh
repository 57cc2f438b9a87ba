#!/usr/bin/env bash
# cli_inspect.sh - `gpufrac inspect` through the real binary: output, exit
# codes and error messages.  usage: cli_inspect.sh GPUFRAC FIXTURES_DIR
# GF_WRAP (e.g. valgrind ...) is put before every run of the binary.
set -u
bin=$1 fx=$2
pass=0 fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { ${GF_WRAP:-} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
check() { # name, condition...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; echo "--- stdout"; head -20 "$tmp/out"; echo "--- stderr"; head -20 "$tmp/err"; fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }
out_lacks() { ! grep -qF -- "$1" "$tmp/out"; }

run inspect "$fx/kai-small.json"
check "table exit 0" rc_is 0
check "table pool line" out_has "POOL inference: 2 nodes (2 with GPUs), 6 GPUs: 2 whole, 4 shared, 0 idle"
check "table gpu line" out_has "GPU 0  shared alloc 0.75 free 0.25  group 1f0e4c52-9a6b-4f8e-b1d2-7c3e5a9d0b11  device 0  team-a/llm-chat-7d9f8b6c5d-x2lqf 0.50, team-a/embedder-5f6c7d8e9a-p0d7z 0.25"
check "table memory pod" out_has "team-b/ocr-6b7c8d9e0f-mm3rt 0.50 (11517 MiB)"
check "table cluster" out_has "CLUSTER: 4 nodes (3 with GPUs), 7 GPUs: 2 whole, 5 shared, 0 idle"
check "warning for Service" err_has "warning: $fx/kai-small.json: items[22]: kind Service is not used by gpufrac; skipped"

run inspect -o json "$fx/kai-small.json"
check "json exit 0" rc_is 0
check "json valid + totals" bash -c "jq -e '.totals.gpus == 7 and .totals.gpus_whole == 2 and .totals.pods_pending_gpu == 1' '$tmp/out' >/dev/null"
check "json gpu members" bash -c "jq -e '[.pools[] | select(.name==\"inference\") | .nodes[] | select(.name==\"gpu-l4-b\") | .gpus[0].pods[].workload.name] == [\"llm-chat\",\"reranker\"]' '$tmp/out' >/dev/null"
check "json pending pod" bash -c "jq -e '.pending_gpu_pods[0].name == \"llm-big-8c7d6e5f4a-a1b2c\" and .pending_gpu_pods[0].fraction == 0.75' '$tmp/out' >/dev/null"

run inspect --summary --pool inference -q "$fx/kai-small.json"
check "summary exit 0" rc_is 0
check "summary has no node lines" bash -c "! grep -q NODE '$tmp/out'"
check "quiet prints no warnings" bash -c "[ ! -s '$tmp/err' ]"

run inspect "$fx/kai-small-pods.json" "$fx/kai-small-nodes.json"
check "two files exit 0" rc_is 0
check "two files same totals" out_has "CLUSTER: 4 nodes (3 with GPUs), 7 GPUs: 2 whole, 5 shared, 0 idle"

cat "$fx/kai-small.json" | run inspect -s -
check "stdin" out_has "CLUSTER: 4 nodes"

# usage and input errors: exit 2 and a message naming file and place
run inspect
check "no args exit 2" rc_is 2
check "no args message" err_has "no snapshot given"
run inspect -o yaml "$fx/kai-small.json"
check "bad format exit 2" rc_is 2
run inspect --pool nosuch "$fx/kai-small.json"
check "bad pool exit 2" rc_is 2
run inspect --help
check "help exit 0" rc_is 0
check "help text" out_has "usage: gpufrac inspect"
run frobnicate
check "unknown command exit 2" rc_is 2

head -c 3000 "$fx/kai-small.json" >"$tmp/trunc.json"
run inspect "$tmp/trunc.json"
check "truncated exit 2" rc_is 2
check "truncated message" err_has "$tmp/trunc.json: line"

sed 's/"gpu-fraction": "0.25"/"gpu-fraction": "1.25"/' "$fx/kai-small.json" >"$tmp/frac.json"
run inspect "$tmp/frac.json"
# one odd pod is skipped with a warning naming it and the field; the rest loads
check "fraction >1 exit 0" rc_is 0
check "fraction >1 warning" err_has 'warning: '"$tmp"'/frac.json: items[12].metadata.annotations["gpu-fraction"]: pod team-a/embedder-5f6c7d8e9a-p0d7z: gpu-fraction "1.25": must be below 1'
check "fraction >1 pod skipped" err_has 'pod skipped'
check "fraction >1 rest shown" out_has 'gpu-l4-a'
check "fraction >1 pod not shown" out_lacks 'embedder-5f6c7d8e9a-p0d7z'

run inspect /nonexistent.json
check "missing file exit 1" rc_is 1
check "missing file message" err_has "/nonexistent.json: cannot open"

echo "cli_inspect: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
