#!/usr/bin/env bash
# cli_consolidate_gov.sh - `gpufrac consolidate` under KAI's governance
# (gangs, non-preemptible pods, topology, shards) on tests/fixtures/kai-gov/
# moves.json (make.py there says what each node holds).
#   usage: cli_consolidate_gov.sh GPUFRAC FIXTURES_DIR
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
jq_ok() { jq -e "$1" "$tmp/out" >/dev/null; }
snap=$fx/kai-gov/moves.json
single="a non-preemptible pod is its workload's only running replica and no PodDisruptionBudget covers it (moveNonPreemptible: replicated)"
spread="its node pool's SchedulingShard places by spread: KAI runs no consolidation there"
gang="a pod of a gang (PodGroup minMember > 1) with a member that cannot move: a gang moves whole or not at all"

# the default: the gang moves whole (trainer-1 from inf-b with trainer-0's
# drain of inf-a), the lone chat replica stays, the spread pool is not
# consolidated, embed has no other node in its zone
run consolidate -q -o json "$snap"
check "exit 0" rc_is 0
check "gang moves whole, listed under inf-a" jq_ok '[.drain[] | select(.node == "inf-a") | .moves[].pod] == ["trainer-0", "trainer-1"]'
check "inf-b empty after the gang moved" jq_ok '[.drain[] | select(.node == "inf-b") | .moves | length] == [0]'
check "each pod moves once" jq_ok '.moves == 2'
check "lone non-preemptible replica stays" jq_ok "[.kept[] | select(.node == \"inf-c\") | .reason] == [\"$single\"]"
check "spread pool: no consolidation" jq_ok "[.kept[] | select(.node | startswith(\"sp-\")) | .reason] == [\"$spread\", \"$spread\"]"
check "json: the rule per pinned pod" jq_ok "[.kept[] | select(.node == \"inf-c\") | .pinned[] | [.namespace, .name, .rule]] == [[\"serving\", \"chat-6d8f7c9b5d-k2m4x\", \"$single\"]]"
check "json: nothing pinned where a pod fits nowhere" jq_ok '[.kept[] | select(.node == "inf-d") | .pinned | length] == [0]'
check "topology: nowhere in its zone" jq_ok '[.kept[] | select(.node == "inf-d") | .reason] == ["a pod fits on no other node of its pool"]'

# --explain names the rule for each pod that cannot move
run consolidate -q --explain inf-c "$snap"
check "explain np: header" out_has "pods that cannot move:"
check "explain np: the pod and its rule" out_has "  serving/chat-6d8f7c9b5d-k2m4x: $single"
run consolidate -q --explain inf-d "$snap"
check "explain topology" out_has "  inf-room: node is outside the pod's required topology domain"
run consolidate -q --explain sp-a "$snap"
check "explain spread" out_has "sp-a cannot be drained: $spread"

# one member opted out: the whole gang stays
jq '(.items[] | select(.metadata.name == "trainer-1") | .metadata.annotations["gpufrac.io/consolidate"]) = "false"' "$snap" >"$tmp/gang.json"
run consolidate -q --explain inf-a "$tmp/gang.json"
check "gang pinned by a member" out_has "inf-a cannot be drained: $gang (research/trainer-0)"
check "gang pinned: the rule per pod" out_has "  research/trainer-0: $gang"

# without the Topology object the pod is pinned
jq 'del(.items[] | select(.kind == "Topology"))' "$snap" >"$tmp/notopo.json"
run consolidate -q --explain inf-d "$tmp/notopo.json"
check "unknown Topology pins" out_has "  serving/embed-8e7d6c5b4a-q9r8s: a pod's PodGroup requires a topology domain whose Topology is not in the input"

# the shard strategy binpack: the batch pool is consolidated (one of its two)
jq '(.items[] | select(.kind == "SchedulingShard" and .metadata.name == "batch") | .spec.placementStrategy.gpu) = "binpack"' "$snap" >"$tmp/binpack.json"
run consolidate -q -o json "$tmp/binpack.json"
check "binpack shard consolidates" jq_ok '[.drain[] | select(.pool == "batch")] | length == 1'

# moveNonPreemptible: flag and policy; the flag wins
run consolidate -q --move-non-preemptible always -o json "$snap"
check "always: chat moves" jq_ok '[.drain[].node] | index("inf-c") != null'
printf 'apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\nconsolidation: {moveNonPreemptible: always}\n' >"$tmp/always.yaml"
run consolidate -q --policy "$tmp/always.yaml" -o json "$snap"
check "policy always: chat moves" jq_ok '[.drain[].node] | index("inf-c") != null'
run consolidate -q --policy "$tmp/always.yaml" --move-non-preemptible replicated -o json "$snap"
check "the flag wins over the policy" jq_ok '[.drain[].node] | index("inf-c") == null'
run consolidate -q --move-non-preemptible sometimes "$snap"
check "bad mode exit 2" rc_is 2
check "bad mode message" err_has "--move-non-preemptible: unknown mode 'sometimes' (replicated, never, always)"
printf 'apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\nconsolidation: {moveNonPreemptible: maybe}\n' >"$tmp/bad.yaml"
run consolidate -q --policy "$tmp/bad.yaml" "$snap"
check "bad policy exit 2" rc_is 2
check "bad policy names the place" err_has "bad.yaml:3:37: consolidation.moveNonPreemptible"

echo "cli_consolidate_gov: $pass passed, $fail failed"
[ "$fail" = 0 ]
