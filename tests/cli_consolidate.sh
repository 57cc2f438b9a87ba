#!/usr/bin/env bash
# cli_consolidate.sh - `gpufrac consolidate` and `gpufrac pack-eval` through
# the real binary.  usage: cli_consolidate.sh GPUFRAC FIXTURES_DIR
set -u
bin=$1 fx=$2
pass=0 fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { ${GF_WRAP:-} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
check() {
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; echo "--- stdout"; head -30 "$tmp/out"; echo "--- stderr"; head -20 "$tmp/err"; fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }

# The fixtures' Deployment pods are single replicas, non-preemptible as
# KAI's grouper makes Deployments (inference, 125): these checks are about
# capacity and pins, so they let them move (cli_consolidate_gov.sh checks the
# default, replicated)
mv_np="--move-non-preemptible always"

# kai-small: nothing can be drained, each node for its own reason
run consolidate -q $mv_np "$fx/kai-small.json"
check "exit 0" rc_is 0
check "summary" out_has "drain 0 of 3 GPU nodes, free 0 GPUs"
check "unowned pins" out_has "gpu-l4-b: a pod has no controller to recreate it (team-a/debug-shell)"
check "pool boundary" out_has "gpu-t4-a: a pod fits on no other node of its pool (team-b/tts-1a2b3c4d5e-zz9k2)"
check "whole GPU needs idle GPU" out_has "gpu-l4-a: a pod fits on no other node of its pool (team-c/train-0)"

# without the unowned debug pod, gpu-l4-b is a candidate but its 2-device
# reranker (0.3 on two distinct GPUs) finds no node with two such GPUs
jq 'del(.items[] | select(.metadata.name == "debug-shell"))' "$fx/kai-small.json" >"$tmp/nodebug.json"
run consolidate -q $mv_np -o json "$tmp/nodebug.json"
check "json exit 0" rc_is 0
check "json valid" bash -c "jq -e '.nodes_freed == 0 and (.kept | length) == 3' '$tmp/out' >/dev/null"
check "json reason" bash -c "jq -e '[.kept[] | select(.node == \"gpu-l4-b\") | .reason] == [\"a pod fits on no other node of its pool\"]' '$tmp/out' >/dev/null"

# add a fourth, idle L4 node to the inference pool: it is drained first (0 moves)
jq '.items += [(.items[] | select(.metadata.name == "gpu-l4-b") | .metadata.name = "gpu-l4-spare")]' \
  "$fx/kai-small.json" >"$tmp/spare.json"
run consolidate -q $mv_np --max-nodes 1 "$tmp/spare.json"
check "spare exit 0" rc_is 0
check "spare drained" out_has "DRAIN gpu-l4-spare  (2 x NVIDIA-L4, cost 2.00)  0 moves"
run consolidate -q $mv_np --cost NVIDIA-L4=3.5 -o json "$tmp/spare.json"
check "cost weight" bash -c "jq -e '.drain[0].cost == 7' '$tmp/out' >/dev/null"

# the bound per pool, met: "optimal"; --exact says it proved it; objective in JSON
run consolidate -q $mv_np "$tmp/spare.json"
check "pool bound line" out_has "pool inference: drains 1 of 2 candidates (2 GPUs); at most 1 can go (3 GPUs), optimal"
run consolidate -q $mv_np --exact --objective gpus --rounds 0 -o json "$tmp/spare.json"
check "exact exit 0" rc_is 0
check "exact json" bash -c "jq -e '.objective == \"gpus\" and ([.pools[] | select(.pool == \"inference\") | .optimal] == [true])' '$tmp/out' >/dev/null"
run consolidate -q $mv_np --budget 0.5 "$tmp/spare.json"
check "budget exit 0" rc_is 0

# usage errors
run consolidate --objective money "$fx/kai-small.json"
check "bad objective exit 2" rc_is 2
check "bad objective message" err_has "unknown objective 'money' (nodes, gpus, cost)"
run consolidate --budget -1 "$fx/kai-small.json"
check "bad budget exit 2" rc_is 2
run consolidate --rounds x "$fx/kai-small.json"
check "bad rounds exit 2" rc_is 2
run consolidate --scorer magic "$fx/kai-small.json"
check "bad scorer exit 2" rc_is 2
check "bad scorer message" err_has "unknown scorer 'magic'"
run consolidate --max-nodes -3 "$fx/kai-small.json"
check "bad max-nodes exit 2" rc_is 2
run consolidate --cost L4 "$fx/kai-small.json"
check "bad cost exit 2" rc_is 2
run consolidate
check "no snapshot exit 2" rc_is 2

# pack-eval on the small cluster: one line per scorer, deterministic
run pack-eval -q --seeds 3 "$fx/kai-small.json"
check "pack-eval exit 0" rc_is 0
check "pack-eval 4 scorers" bash -c "[ \$(grep -cE '^(binpack|spread|bestfit|fgd) ' '$tmp/out') = 4 ]"
cp "$tmp/out" "$tmp/first"
run pack-eval -q --seeds 3 "$fx/kai-small.json"
check "pack-eval deterministic" bash -c "diff <(cut -d'|' -f1-6 '$tmp/first') <(cut -d'|' -f1-6 '$tmp/out') >/dev/null"
run pack-eval --seeds 0 "$fx/kai-small.json"
check "pack-eval bad seeds" rc_is 2

# --explain: why a node stays, pod by pod and node by node
run consolidate -q $mv_np --explain gpu-l4-a "$fx/kai-small.json"
check "explain exit 0" rc_is 0
check "explain blocker" out_has "gpu-l4-a cannot be drained: a pod fits on no other node of its pool (team-c/train-0)"
check "explain per node" out_has "gpu-l4-b: not enough idle GPUs"
run consolidate -q $mv_np --explain nosuch "$fx/kai-small.json"
check "explain unknown node exit 2" rc_is 2
check "explain unknown node message" err_has "no node named 'nosuch'"

# --pool limits the candidates to one node pool
run consolidate -q $mv_np --pool inference "$fx/kai-small.json"
check "pool exit 0" rc_is 0
check "pool keeps other pools out" bash -c "! grep -q gpu-t4-a '$tmp/out'"
check "pool lists its nodes" out_has "gpu-l4-b: a pod has no controller"
run consolidate -q $mv_np --pool nosuch "$fx/kai-small.json"
check "unknown pool exit 2" rc_is 2
check "unknown pool message" err_has "no node pool named 'nosuch'"

# --timings: load and planning time, wall and CPU, on stderr; stdout unchanged
run consolidate -q $mv_np --timings -o json "$fx/kai-small.json"
check "timings exit 0" rc_is 0
check "timings line" bash -c "grep -Eq 'timings: load [0-9.]+ s \(cpu [0-9.]+ s\), plan [0-9.]+ s \(cpu [0-9.]+ s\)' '$tmp/err'"
check "timings keep json clean" bash -c "jq -e .nodes_freed '$tmp/out' >/dev/null"

echo "cli_consolidate: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
