#!/usr/bin/env bash
# cli_recommend.sh - `gpufrac recommend` through the real binary: CSV usage,
# policy, history file, patches, bad input, and a live Prometheus (Debian's
# `prometheus`) holding the exporter's metrics.
#   usage: cli_recommend.sh GPUFRAC FIXTURES_DIR
set -u
bin=$1 fx=$2
pass=0 fail=0
tmp=$(mktemp -d)
prom_pid=
cleanup() {
  if [ -n "$prom_pid" ]; then kill "$prom_pid" 2>/dev/null; wait "$prom_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
run() { ${GF_WRAP:-} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
check() {
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; echo "--- stdout"; head -30 "$tmp/out"; echo "--- stderr"; head -20 "$tmp/err"; fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }
jq_ok() { jq -e "$1" "$tmp/out" >/dev/null; }

snap=$fx/kai-small.json
start=1795507200 # 2026-11-24T08:00:00Z
# 25 h at one sample a minute. llm-chat: 2 GiB of its 0.5 L4 (-> downsize
# by maxStep to 0.25); embedder: 5 GiB of 0.25, then over the last five
# minutes a new peak of 5.5 GiB (of 5.62 GiB, above the 90% trigger, new
# territory: upsize.newPeak -> upsize to 5.5 x 1.15 / 22.49 = 0.281 -> 0.3); ocr (gpu-memory
# 11517 MiB): 2 GiB -> 11517 - 0.25 x 23034 -> 5888 MiB; one llm-chat pod
# that no longer exists (found by its name); one pod of nothing.
gen_usage() { # FROM_MINUTE TO_MINUTE
  awk -v start=$start -v from="$1" -v to="$2" 'BEGIN {
    G = 1073741824
    print "timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util"
    for (i = from; i <= to; i++) {
      t = start + i * 60
      printf "%d,team-a,llm-chat-7d9f8b6c5d-x2lqf,server,GPU-a,%.0f,0.08\n", t, 2 * G
      printf "%d,team-a,llm-chat-7d9f8b6c5d-gone1,server,GPU-b,%.0f,0.07\n", t, 1.5 * G
      printf "%d,team-a,embedder-5f6c7d8e9a-p0d7z,embed,GPU-a,%.0f,\n", t, (i >= to - 5 ? 5.5 : 5) * G
      printf "%d,team-b,ocr-6b7c8d9e0f-mm3rt,ocr,GPU-c,%.0f,0.1\n", t, 2 * G
      printf "%d,team-x,stray-pod,c,GPU-z,%.0f,0.1\n", t, G
    }
  }'
}
gen_usage 0 1500 >"$tmp/usage.csv"

run recommend -o json --usage "$tmp/usage.csv" "$snap"
check "json exit 0" rc_is 0
check "llm-chat downsized by maxStep" jq_ok '.recommendations[] | select(.workload == "team-a/llm-chat") | .action == "downsize" and .recommended == 0.25 and .current == 0.5'
check "embedder upsized" jq_ok '.recommendations[] | select(.workload == "team-a/embedder") | .action == "upsize" and .recommended == 0.3'
check "ocr keeps MiB" jq_ok '.recommendations[] | select(.workload == "team-b/ocr") | .unit == "gpu-memory" and .recommended == 5888'
check "no data for reranker" jq_ok '.recommendations[] | select(.workload == "team-b/reranker") | .action == "no-data"'
check "saving counts replicas" jq_ok '.recommendations[] | select(.workload == "team-a/llm-chat") | .gpus_saved == 0.5'
check "unmatched counted" jq_ok '.samples.unmatched == 1501'
check "unmatched warned" err_has "match no workload in the snapshot were skipped (e.g. team-x/stray-pod)"

run recommend --usage "$tmp/usage.csv" "$snap"
check "table exit 0" rc_is 0
check "table row" out_has "team-a/Deployment/llm-chat"
check "table reason" out_has "high-water memory 2.00 GiB over 1d x 1.10 (one margin, confident peak)"
check "table summary" out_has "7 workloads: 1 upsize, 2 downsize, 0 to a whole GPU, 0 of 1 whole-GPU workloads to a fraction"

# whole GPUs (StatefulSet team-c/train, 2 pods with nvidia.com/gpu: 1 in
# container "server") at 3 and 2.5 GiB, SM 0.2 for 25 h: a quarter of a GPU
# each, one strategic merge patch; with fromWholeGpu off, nothing
awk -v start=$start 'BEGIN {
    G = 1073741824
    print "timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util"
    for (i = 0; i <= 1500; i++) {
      t = start + i * 60
      printf "%d,team-c,train-0,server,GPU-t0,%.0f,0.2\n", t, 3 * G
      printf "%d,team-c,train-1,server,GPU-t1,%.0f,0.18\n", t, 2.5 * G
    }
  }' >"$tmp/whole.csv"
run recommend --patches --usage "$tmp/whole.csv" "$snap"
check "conversion patch" out_has "kubectl patch statefulset 'train' -n 'team-c' --type strategic -p '{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"gpu-fraction\":\"0.25\"}},\"spec\":{\"containers\":[{\"name\":\"server\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":null},\"requests\":{\"nvidia.com/gpu\":null}}}]}}}}'"
check "conversion frees" out_has "# team-c/StatefulSet/train: 1 whole GPU -> gpu-fraction 0.25 (frees 1.50 GPUs)"
printf 'apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\ndefaults:\n  convert:\n    fromWholeGpu: off\n' >"$tmp/noconv.yaml"
run recommend --patches --policy "$tmp/noconv.yaml" --usage "$tmp/whole.csv" "$snap"
check "conversion off: no patch" out_has "# nothing to change"
printf 'apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\ndefaults:\n  convert:\n    fromWholeGpu: yes-please\n' >"$tmp/badconv.yaml"
run recommend --policy "$tmp/badconv.yaml" --usage "$tmp/whole.csv" "$snap"
check "convert policy error exit 2" rc_is 2
check "convert policy error place" err_has "badconv.yaml:5:19: defaults.convert.fromWholeGpu: unknown mode \"yes-please\""

run recommend --patches --usage "$tmp/usage.csv" "$snap"
check "patch for llm-chat" out_has "kubectl patch deployment 'llm-chat' -n 'team-a' --type merge -p '{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"gpu-fraction\":\"0.25\"}}}}}'"
check "patch keeps gpu-memory unit" out_has "{\"gpu-memory\":\"5888\"}"
check "patch header" out_has "# team-a/Deployment/embedder: gpu-fraction 0.25 -> 0.3 (upsize)"
# the patch is a valid JSON merge patch
sed -n "s/^kubectl patch .* -p '\(.*\)'$/\1/p" "$tmp/out" | head -1 >"$tmp/patch.json"
check "patch is JSON" jq -e '.spec.template.metadata.annotations' "$tmp/patch.json"

# pods whose top owner is an operator's object (tests/fixtures/owners): at
# 10 GiB, then a new peak of 11 GiB of their 0.5 L4, each wants an upsize;
# no kubectl patch of what the operator would put back, the field to set
# instead
awk -v start=$start 'BEGIN {
    G = 1073741824
    print "timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util"
    for (i = 0; i <= 30; i++) {
      t = start + i * 60
      m = (i >= 25 ? 11 : 10) * G
      printf "%d,serving,llama-predictor-5d4c3b2a1f-abcde,main,GPU-1,%.0f,0.2\n", t, m
      printf "%d,serving,hello-00001-deployment-7c8d9e0f1a-fghij,main,GPU-2,%.0f,0.2\n", t, m
      printf "%d,serving,canary-6f5e4d3c2b-klmno,main,GPU-3,%.0f,0.2\n", t, m
      printf "%d,serving,dist-0,main,GPU-4,%.0f,0.2\n", t, m
      printf "%d,serving,ray-worker-gpu-x7k2p,main,GPU-5,%.0f,0.2\n", t, m
    }
  }' >"$tmp/owners.csv"
run recommend --patches --usage "$tmp/owners.csv" "$fx/owners/cluster.json"
check "owners: exit 0" rc_is 0
check "owners: no kubectl patch" bash -c "! grep -q '^kubectl' '$tmp/out'"
check "owners: not 'nothing to change'" bash -c "! grep -q 'nothing to change' '$tmp/out'"
check "owners: KServe" out_has "# serving/InferenceService/llama: gpu-fraction 0.5 -> 0.6 (upsize): recommend-only: set gpu-fraction in spec.predictor.annotations of InferenceService serving/llama"
check "owners: Knative" out_has "recommend-only: set gpu-fraction in spec.template.metadata.annotations (Knative Service) of Service serving/hello"
check "owners: Argo" out_has "recommend-only: set gpu-fraction in spec.template.metadata.annotations (Argo Rollout) of Rollout serving/canary"
check "owners: LeaderWorkerSet" out_has "recommend-only: set gpu-fraction in spec.leaderWorkerTemplate.workerTemplate.metadata.annotations (and leaderTemplate) of LeaderWorkerSet serving/dist"
check "owners: Ray" out_has "recommend-only: set gpu-fraction in spec.workerGroupSpecs[].template.metadata.annotations (or headGroupSpec; a RayService's: spec.rayClusterConfig) of RayCluster serving/ray"

# a policy: team-b off; llm-chat gets more headroom
cat >"$tmp/policy.yaml" <<'EOF'
apiVersion: gpufrac.io/v1alpha1
kind: RightsizingPolicy
rules:
  - name: team-b-hands-off
    match: {namespaces: [team-b]}
    mode: "off"
  - name: chat
    match: {namespaces: ["team-*"]}
    headroom: 0.5
    singleMargin: false # headroom stacked as before (with it, a confident peak gets memoryMargin)
EOF
run recommend -o json --policy "$tmp/policy.yaml" --usage "$tmp/usage.csv" "$snap"
check "policy exit 0" rc_is 0
check "policy off" jq_ok '.recommendations[] | select(.workload == "team-b/ocr") | .action == "off" and (.policy | contains("team-b-hands-off"))'
check "policy headroom" jq_ok '.recommendations[] | select(.workload == "team-a/embedder") | .recommended == 0.4'

# history: half the data, then all of it: the second run skips what it has
# and ends where a single run does
run recommend -o json --history "$tmp/h.db" --usage <(gen_usage 0 700) "$snap"
check "history first run" rc_is 0
check "history file written" [ -s "$tmp/h.db" ]
run recommend -o json --history "$tmp/h.db" --usage "$tmp/usage.csv" "$snap"
check "history second run" rc_is 0
check "old samples skipped" jq_ok '.samples.skipped_old == 3505'
check "same answer as one run" jq_ok '.recommendations[] | select(.workload == "team-a/llm-chat") | .recommended == 0.25'
cp "$tmp/h.db" "$tmp/h.keep"
printf 'not a database at all, just bytes' >"$tmp/bad.db"
run recommend --history "$tmp/bad.db" --usage "$tmp/usage.csv" "$snap"
check "corrupt history fails" bash -c "[ \"\$(cat '$tmp/rc')\" != 0 ]"
check "corrupt history named" err_has "bad.db"
check "corrupt history untouched" grep -q "just bytes" "$tmp/bad.db"

# bad input: exit 2, says where
printf 'timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util\n1795507200,a,b,c,d,-5,0.1\n' >"$tmp/bad.csv"
run recommend --usage "$tmp/bad.csv" "$snap"
check "bad csv exit 2" rc_is 2
check "bad csv line" err_has "bad.csv:2"
printf 'apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\ndefaults:\n  headroom: -1\n' >"$tmp/bad.yaml"
run recommend --policy "$tmp/bad.yaml" "$snap"
check "bad policy exit 2" rc_is 2
check "bad policy line" err_has "bad.yaml:4"
# untrusted files are bounded (io/input.h): CSV, Prometheus answers, policies
cat "$tmp/usage.csv" "$tmp/usage.csv" "$tmp/usage.csv" "$tmp/usage.csv" >"$tmp/big.csv"
cap=$(( $(wc -c <"$snap") + 1 ))
check "big.csv is over the cap" [ "$(wc -c <"$tmp/big.csv")" -gt "$cap" ]
GPUFRAC_MAX_INPUT=$cap run recommend --usage "$tmp/big.csv" "$snap"
check "csv over the cap exit 2" rc_is 2
check "csv over the cap message" err_has "$tmp/big.csv: CSV file is larger than $cap bytes, the limit"
head -c 100000 /dev/zero >"$tmp/zero.json"
run recommend --prom-file "$tmp/zero.json" "$snap"
check "binary prom answer exit 2" rc_is 2
check "binary prom answer message" err_has "$tmp/zero.json: not a text file: a NUL byte at offset 0 (a Prometheus answer is text)"
run recommend --policy "$tmp/zero.json" "$snap"
check "binary policy exit 2" rc_is 2
check "binary policy message" err_has "$tmp/zero.json: not a text file"
run recommend --range 5x --prometheus http://127.0.0.1:9 "$snap"
check "bad range exit 2" rc_is 2
HOME=$tmp KUBECONFIG= run recommend
check "no snapshot, no cluster: exit 2" rc_is 2
run recommend --usage "$tmp/usage.csv" "$tmp/missing.json"
check "missing snapshot fails" bash -c "[ \"\$(cat '$tmp/rc')\" != 0 ]"

# a live Prometheus with the exporter's metrics (backfilled with promtool)
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  awk -v start=$start 'BEGIN {
    m = "gpufrac_pod_gpu_memory_used_bytes"
    print "# TYPE " m " gauge"
    for (i = 0; i <= 1560; i++)
      printf "%s{namespace=\"team-a\",pod=\"llm-chat-7d9f8b6c5d-x2lqf\",container=\"server\",gpu_uuid=\"GPU-a\",gpu_index=\"0\"} %.0f %d\n", m, 2147483648, start + i * 60
    # processes of no pod, as the exporter publishes them (namespace="")
    for (i = 0; i <= 1560; i++)
      printf "%s{namespace=\"\",pod=\"unattributed\",container=\"\",gpu_uuid=\"GPU-a\",gpu_index=\"0\",unattributed=\"host\"} %.0f %d\n", m, 1073741824, start + i * 60
    m = "gpufrac_pod_gpu_sm_utilization_ratio"
    print "# TYPE " m " gauge"
    for (i = 0; i <= 1560; i++)
      printf "%s{namespace=\"team-a\",pod=\"llm-chat-7d9f8b6c5d-x2lqf\",container=\"server\",gpu_uuid=\"GPU-a\",gpu_index=\"0\"} 0.08 %d\n", m, start + i * 60
    print "# EOF"
  }' >"$tmp/usage.om"
  promtool tsdb create-blocks-from openmetrics "$tmp/usage.om" "$tmp/tsdb" >/dev/null
  printf 'global: {scrape_interval: 15s}\n' >"$tmp/prometheus.yml"
  base=
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
      --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$port" \
      >"$tmp/prometheus.log" 2>&1 &
    prom_pid=$!
    for _ in $(seq 100); do
      if curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null; then base="http://127.0.0.1:$port"; break; fi
      kill -0 "$prom_pid" 2>/dev/null || break
      sleep 0.2
    done
    [ -n "$base" ] && break
    kill "$prom_pid" 2>/dev/null; wait "$prom_pid" 2>/dev/null; prom_pid=
  done
  check "prometheus started" [ -n "$base" ]
  if [ -n "$base" ]; then
    run recommend -o json --prometheus "$base" --range 2d --step 1m --now $((start + 1560 * 60)) "$snap"
    check "prometheus exit 0" rc_is 0
    check "prometheus samples" jq_ok '.samples.added > 3000'
    check "prometheus downsize" jq_ok '.recommendations[] | select(.workload == "team-a/llm-chat") | .action == "downsize" and .recommended == 0.25'
    run recommend --prometheus "$base/nope" --now $((start + 1560 * 60)) "$snap"
    check "prometheus 404 fails" bash -c "[ \"\$(cat '$tmp/rc')\" != 0 ]"
  fi
else
  echo "SKIP: prometheus not installed (scripts/deps.sh --test installs it)"
fi

echo "cli_recommend: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
