#!/usr/bin/env bash
# cli_kai_real.sh - every command on objects shaped as KAI Scheduler writes
# them (tests/fixtures/kai-real, see its README): GPU UUIDs on reservation
# pods, a two-device fraction with only runai-gpu-group/<g> labels, a
# gpu-memory pod, a node without the memory label, another scheduler's pod
# with a gpu-fraction annotation, a sidecar pod with
# gpu-fraction-container-name; and odd objects that must not stop anything.
# usage: cli_kai_real.sh GPUFRAC FIXTURES_DIR
set -u
bin=$1 fx=$2
k=$fx/kai-real
pass=0 fail=0
tmp=$(mktemp -d)
spid="" cpid=""
stop() { [ -n "$1" ] || return 0; kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
trap 'stop "$cpid"; stop "$spid"; rm -rf "$tmp"' EXIT
run() { ${GF_WRAP:-} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; cat "$tmp/out" "$tmp/err" >>"$tmp/all"; }
check() { # name, condition...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; echo "--- stdout"; head -30 "$tmp/out"; echo "--- stderr"; head -20 "$tmp/err"; fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
out_lacks() { ! grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }
err_lacks() { ! grep -qF -- "$1" "$tmp/err"; }
err_count() { grep -cF -- "$1" "$tmp/err"; }
jq_ok() { jq -e "$1" "$tmp/out" >/dev/null; }
C=("$k"/cluster/*.json)
ODD=$k/odd/pods.json
U1=GPU-8c7e4a01-7c1e-2b5d-0e3f-0000a11ce001 U2=GPU-8c7e4a02-7c1e-2b5d-0e3f-0000a11ce002
U3=GPU-8c7e4a03-7c1e-2b5d-0e3f-0000a11ce003

# --- inspect: the model as KAI sees it ------------------------------------------------
run inspect "${C[@]}"
check "inspect: exit 0" rc_is 0
check "inspect: memory label floored to 100 MiB" out_has "NODE gpu-h100-a  NVIDIA-H100-80GB-HBM3  81500 MiB/GPU  4 GPUs"
check "inspect: no memory label: KAI's 100 MiB, the product's for display" out_has "NODE gpu-l4-b  NVIDIA-L4  100 MiB/GPU as KAI counts it (no nvidia.com/gpu.memory label; the model has 23034 MiB)  2 GPUs"
check "inspect: warned once for the node" [ "$(err_count 'node gpu-l4-b has no usable nvidia.com/gpu.memory label: KAI counts 100 MiB per GPU there')" = 1 ]
check "inspect: reservation UUID is the device" out_has "GPU 0  shared alloc 0.85 free 0.15  group 5ca1ab01-4b1d-4c2e-9f3a-0000feed0001  device $U1  serving/chat-6d8f7c9b5d-k2m4x 0.85"
check "inspect: two-device fraction on its first group's GPU" out_has "GPU 1  shared alloc 0.25 free 0.75  group 5ca1ab02-4b1d-4c2e-9f3a-0000feed0002  device $U2  serving/reranker-7f9c8d6b5a-p8r2t 0.25"
check "inspect: and on its second" out_has "GPU 2  shared alloc 0.25 free 0.75  group 5ca1ab03-4b1d-4c2e-9f3a-0000feed0003  device $U3  serving/reranker-7f9c8d6b5a-p8r2t 0.25"
check "inspect: gpu-memory pod beside the sidecar pod" out_has "search/rag-5b4a392817-z9y8x 0.30 [vllm], serving/embed-8e7d6c5b4a-q9r8s 0.25 (20000 MiB)"
check "inspect: nothing inferred" err_lacks "inferred"
check "inspect: the other scheduler's pod holds a whole GPU" out_has "GPU 1  whole  alloc 1.00 free 0.00  ml-legacy/notebook-0"
check "inspect: its gpu-fraction annotation is not read" err_lacks "notebook-0"
check "inspect: 5 reservation pods" out_has "6 using GPUs (5 sharing, 1 whole), 0 pending for a GPU, 5 KAI reservation pods"

run inspect -o json "${C[@]}"
check "json: exit 0" rc_is 0
check "json: reranker on the devices of both groups" jq_ok "[.pools[].nodes[]?.gpus[] | select(any(.pods[]; .name == \"reranker-7f9c8d6b5a-p8r2t\")) | .device_id] == [\"$U2\", \"$U3\"]"
check "json: no placement inferred" jq_ok '[.pools[].nodes[]?.gpus[] | select(.placement_inferred)] | length == 0'
check "json: memory from the label, or the product's for display" jq_ok '[.pools[].nodes[]? | {name, gpu_memory_mib, gpu_memory_from_label, p: .gpu_memory_product_mib}] == [{"name":"gpu-h100-a","gpu_memory_mib":81500,"gpu_memory_from_label":true,"p":null},{"name":"gpu-l4-b","gpu_memory_mib":100,"gpu_memory_from_label":false,"p":23034}]'

# --- one odd object never stops a command ---------------------------------------------
for cmd in "inspect" "consolidate" "recommend --usage $k/usage.csv" "explain --usage $k/usage.csv" \
           "simulate --days 1 --cluster"; do
  if [ "$cmd" = "simulate --days 1 --cluster" ]; then
    args=(); for f in "${C[@]}" "$ODD"; do args+=(--cluster "$f"); done
    run simulate --days 1 "${args[@]}"
  else
    # shellcheck disable=SC2086
    run $cmd "${C[@]}" "$ODD"
  fi
  name=${cmd%% *}
  check "$name with odd objects: exit 0" rc_is 0
  check "$name: the refused fraction named, with its field" err_has "warning: $ODD: items[0].metadata.annotations[\"gpu-fraction\"]: pod serving/typo-0: gpu-fraction \"1.0\": must be below 1"
  check "$name: the pod on a missing node named" err_has "warning: $ODD: items[1]: spec.nodeName: pod serving/orphan-0 is bound to node gpu-gone, which is not in the input; pod skipped"
  check "$name: each once" [ "$(err_count 'typo-0')-$(err_count 'orphan-0')" = 1-1 ]
  check "$name: the odd pods are nowhere in the output" bash -c "! grep -qE 'typo-0|orphan-0' '$tmp/out'"
done
# a whole input that is not a snapshot still fails
head -c 700 "$k/cluster/pods.json" >"$tmp/trunc.json"
run inspect "$tmp/trunc.json"
check "truncated: exit 2" rc_is 2
check "truncated: where" err_has "$tmp/trunc.json: line"
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{}}' >"$tmp/cm.json"
run inspect "$tmp/cm.json" "$k/cluster/nodes.json"
check "another kind among good input: skipped, exit 0" rc_is 0
echo '[{"kind":"Pod"}]' >"$tmp/arr.json"
run inspect "$tmp/arr.json"
check "not an object: exit 2" rc_is 2

# --- recommend: only what KAI accepts ----------------------------------------------------
# The fixture's servers are vLLM images without KV-cache metrics: NVML memory
# at their cap is never by itself a reason to upsize them (docs/engines.md)...
run recommend --usage "$k/usage.csv" "${C[@]}"
check "recommend: vLLM not upsized on NVML memory alone" out_has "1 upsize, 0 downsize, 0 to a whole GPU"
# ... so KAI's rules are checked on the same data read as generic workloads
cat >"$tmp/generic.yaml" <<'EOF'
apiVersion: gpufrac.io/v1alpha1
kind: RightsizingPolicy
defaults:
  engine: {rules: false}
EOF
G=(--policy "$tmp/generic.yaml")
run recommend "${G[@]}" --usage "$k/usage.csv" "${C[@]}"
check "recommend: exit 0" rc_is 0
check "recommend: above 0.95 a whole GPU" out_has "serving/Deployment/chat                      gpu-fraction      0.85 nvidia.com/gpu: 1 whole-gpu"
check "recommend: the two-device fraction per device, its busier device decides" out_has "serving/Deployment/reranker                  gpu-fraction      0.25        0.35 upsize"
check "recommend: gpu-memory in whole MiB" out_has "serving/Deployment/embed                     gpu-mem MiB      20000       23040 upsize"
check "recommend: the sidecar pod's share" out_has "search/Deployment/rag                        gpu-fraction       0.3        0.35 upsize"
check "recommend: summary" out_has "6 workloads: 3 upsize, 0 downsize, 1 to a whole GPU, 0 of 1 whole-GPU workloads to a fraction"
run recommend "${G[@]}" -o json --all --usage "$k/usage.csv" "${C[@]}"
check "recommend json: whole GPU in its own unit" jq_ok '.recommendations[] | select(.workload == "serving/chat") | .action == "whole-gpu" and .recommended_unit == "nvidia.com/gpu" and .recommended == 1'
check "recommend json: no fraction of 1 or more" jq_ok 'all(.recommendations[]; .unit != "gpu-fraction" or .action == "whole-gpu" or (.recommended < 1 and .recommended > 0))'
check "recommend json: the unlabelled node's workload is not sized" jq_ok '.recommendations[] | select(.workload == "serving/small") | .action == "no-data" and (.reason | test("nvidia.com/gpu.memory label"))'
run recommend "${G[@]}" --patches --usage "$k/usage.csv" "${C[@]}"
check "patches: one strategic patch: nvidia.com/gpu in the container, the annotations null" out_has "kubectl patch deployment 'chat' -n 'serving' --type strategic -p '{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"gpu-fraction\":null,\"gpu-fraction-container-name\":null,\"gpu-fraction-num-devices\":null,\"gpu-memory\":null}},\"spec\":{\"containers\":[{\"name\":\"server\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}}}}'"
cat >"$tmp/rag.yaml" <<'EOF'
apiVersion: gpufrac.io/v1alpha1
kind: RightsizingPolicy
defaults:
  engine: {rules: false}
rules:
  - name: rag-capped
    match: {namespaces: [search]}
    bounds: {maxFraction: 0.3}
EOF
run recommend --patches --policy "$tmp/rag.yaml" --usage "$k/usage.csv" "${C[@]}"
check "patches: the sidecar pod's GPU goes to gpu-fraction-container-name, not the first container" out_has "kubectl patch deployment 'rag' -n 'search' --type strategic -p '{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"gpu-fraction\":null,\"gpu-fraction-container-name\":null,\"gpu-fraction-num-devices\":null,\"gpu-memory\":null}},\"spec\":{\"containers\":[{\"name\":\"server\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}}}}'"
check "patches: the other scheduler's workload never" out_lacks "notebook"

run consolidate -o json "${C[@]}"
check "consolidate json: exit 0" rc_is 0
run explain -o json --usage "$k/usage.csv" "${C[@]}"
check "explain json: exit 0" rc_is 0
check "explain: usage joined by GPU UUID: the busier device of the two-device pod overruns" jq_ok '[.gpus[] | select(any(.findings[]; .kind == "memory-overrun" and .offender == "serving/reranker-7f9c8d6b5a-p8r2t")) | .index] == [1]'
check "explain: each device has its own use" jq_ok '[.gpus[] | .pods[] | select(.pod == "serving/reranker-7f9c8d6b5a-p8r2t") | .memory_bytes] == [25769803776]'
check "explain: no fraction of 1 or more proposed" jq_ok '[.. | objects | select(has("new_fraction")) | .new_fraction | select(. >= 1)] | length == 0'
run simulate --days 1 -o json --cluster "$k/cluster/nodes.json" --cluster "$k/cluster/pods.json" \
  --cluster "$k/cluster/deployments.json" --cluster "$k/cluster/replicasets.json" \
  --cluster "$k/cluster/statefulsets.json"
check "simulate --cluster: exit 0" rc_is 0

# --- KAI's configurable names ---------------------------------------------------------------
run inspect --scheduler-name default-scheduler "${C[@]}"
check "scheduler name: exit 0" rc_is 0
check "scheduler name: now the notebook's annotation is KAI's, and refused" err_has "pod ml-legacy/notebook-0: gpu-fraction \"1.5\": must be below 1"
check "scheduler name: kai-scheduler's pods' shares are not read" out_has "0 sharing"
cat >"$tmp/names.yaml" <<'EOF'
apiVersion: gpufrac.io/v1alpha1
kind: RightsizingPolicy
kai:
  reservationNamespace: kai-rr
EOF
run recommend --policy "$tmp/names.yaml" --usage "$k/usage.csv" "${C[@]}"
check "policy kai section: exit 0" rc_is 0
run inspect --reservation-namespace kai-rr "${C[@]}"
check "reservation namespace: the pods elsewhere are not KAI's reservations" out_has "0 KAI reservation pods"
run inspect --reservation-namespace kai-rr --reservation-namespace kai-resource-reservation "${C[@]}"
check "reservation namespace: the last flag wins" out_has "5 KAI reservation pods"
run inspect --help
check "help lists the names" out_has "--reservation-namespace NS"

# --- no output of any mode holds a gpu-fraction of 1 or more --------------------------------
# every stdout and stderr above, as text: "gpu-fraction": "X", gpu-fraction X, gpu-fraction=X
scan=$(grep -oE 'gpu-fraction"?[:= ]+"?[0-9]+(\.[0-9]+)?' "$tmp/all" | grep -oE '[0-9]+(\.[0-9]+)?$' | awk '$1 >= 1' | sort -u | tr '\n' ' ')
# the inputs' own refused values are quoted back in warnings: 1.0 (typo-0), 1.5 (notebook-0)
bad=$(grep -E 'gpu-fraction"?[:= ]+"?[0-9]' "$tmp/all" | grep -vE 'typo-0|notebook-0' | grep -oE 'gpu-fraction"?[:= ]+"?[0-9]+(\.[0-9]+)?' | grep -oE '[0-9]+(\.[0-9]+)?$' | awk '$1 >= 1' | head -3 | tr '\n' ' ')
check "scan: some gpu-fraction values were seen" bash -c "grep -qE 'gpu-fraction\"?[:= ]+\"?0\\.' '$tmp/all'"
check "scan: no gpu-fraction >= 1 written (saw: $scan)" [ -z "$bad" ]

# --- run --once against the stand-in API server ------------------------------------------
standin=${GF_KUBE_STANDIN:-}
if [ -n "$standin" ] && [ -x "$standin" ] && command -v curl >/dev/null; then
  mkdir -p "$tmp/cluster"
  cp "${C[@]}" "$tmp/cluster/"
  cp "$ODD" "$tmp/cluster/odd-pods.json"
  token=gf-kai-real
  "$standin" --port 0 --fixtures "$tmp/cluster" --token "$token" --bookmark-ms 200 \
    >"$tmp/standin.out" 2>"$tmp/standin.err" &
  spid=$!
  surl=""
  for _ in $(seq 1 100); do surl=$(head -1 "$tmp/standin.out" 2>/dev/null); [ -n "$surl" ] && break; sleep 0.05; done
  cat >"$tmp/kc.yaml" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: s, cluster: {server: "$surl"}}]
users: [{name: u, user: {token: $token}}]
contexts: [{name: c, context: {cluster: s, user: u, namespace: gpufrac}}]
current-context: c
EOF
  run run --kubeconfig "$tmp/kc.yaml" --once --listen off --prometheus http://127.0.0.1:9
  check "run --once: exit 1 (Prometheus is down), odd objects skipped" rc_is 1
  check "run: the refused fraction named" err_has 'pod serving/typo-0: gpu-fraction "1.0": must be below 1'
  check "run: the pod on a missing node named" err_has 'pod serving/orphan-0 is bound to node gpu-gone, which is not in the input; pod skipped'
  check "run: the iteration went on" err_has "iteration: 6 workloads"
  reqs=$(curl -s "$surl/standin/requests" | jq -r '.requests[]')
  check "run: nothing written to the other scheduler's workload" bash -c "! grep -q 'ml-legacy' <<<'$reqs' || ! grep -E '^(PATCH|POST|PUT)' <<<'$reqs' | grep -q ml-legacy"
  # a looping controller counts what it skipped on /metrics
  ${GF_WRAP:-} "$bin" run --kubeconfig "$tmp/kc.yaml" --listen 127.0.0.1:0 --interval 1s \
    --prometheus http://127.0.0.1:9 >"$tmp/loop.out" 2>"$tmp/loop.err" &
  cpid=$!
  mport=""
  for _ in $(seq 1 150); do
    mport=$(sed -n 's|.*serving http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' "$tmp/loop.err" | head -1)
    # two iterations at least: counted twice
    [ -n "$mport" ] && curl -s "http://127.0.0.1:$mport/metrics" | grep -qE 'gpufrac_objects_skipped_total\{reason="node_missing"\} ([2-9]|[1-9][0-9])' && break
    sleep 0.2
  done
  curl -s "http://127.0.0.1:$mport/metrics" >"$tmp/metrics" 2>/dev/null
  check "metrics: kai_annotation counted" grep -qE '^gpufrac_objects_skipped_total\{reason="kai_annotation"\} [1-9]' "$tmp/metrics"
  check "metrics: node_missing counted" grep -qE '^gpufrac_objects_skipped_total\{reason="node_missing"\} [1-9]' "$tmp/metrics"
  check "metrics: no_gpu_node zero" grep -qE '^gpufrac_objects_skipped_total\{reason="no_gpu_node"\} 0$' "$tmp/metrics"
  check "loop: counted each iteration" grep -qE '^gpufrac_objects_skipped_total\{reason="node_missing"\} ([2-9]|[1-9][0-9])' "$tmp/metrics"
  check "loop: each odd object warned once, not every iteration" [ "$(grep -c 'typo-0' "$tmp/loop.err")-$(grep -c 'orphan-0' "$tmp/loop.err")-$(grep -c 'node gpu-l4-b has no usable' "$tmp/loop.err")" = 1-1-1 ]
  stop "$cpid"; cpid=""
else
  echo "SKIP: run against the stand-in (GF_KUBE_STANDIN not built)"
fi

echo "cli_kai_real: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
