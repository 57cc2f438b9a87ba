#!/usr/bin/env bash
# cli_cluster.sh - the analysis commands pointed at a cluster instead of a
# snapshot file: the stand-in API server (kube-standin) holding the
# controller's test cluster (tests/fixtures/controller/cluster), reached
# through a kubeconfig with a token, as kubectl would. Checked:
#   - inspect, consolidate, recommend, explain and simulate --cluster kube
#     read the cluster when no SNAPSHOT is given, and see what the same
#     objects as files give (same JSON);
#     --context picks a context; a context that does not exist is exit 2;
#   - -n (repeatable) lists each namespace on its own, -l sends the label
#     selector, both say the view is partial; -n with a SNAPSHOT is exit 2;
#   - a kind the user may not list (403 on PodDisruptionBudgets) is a
#     warning; 403 on pods, or a server that does not answer, is exit 1;
#   - Prometheus credentials: the bearer token file is sent (the stand-in
#     answers 401 without it) and never printed; a bad header and a bad basic
#     auth file are exit 2 naming the problem;
#   - with a real Prometheus (Debian's package): recommend with no usage
#     option finds the cluster's Prometheus by its Service's label and reads
#     it through the API server's service proxy, saying which it found;
#   - recommend without any usage: "no data" per workload and in the
#     summary, exit 3.
#   usage: cli_cluster.sh GPUFRAC FIXTURES_DIR
#   env: GF_KUBE_STANDIN (required)
. "$(dirname "$0")/lib_standin.sh"
set -u
bin=$1 fx=$2
standin=${GF_KUBE_STANDIN:-}
if [ -z "$standin" ] || [ ! -x "$standin" ]; then
  echo "SKIP: kube-standin not built (GF_KUBE_STANDIN)"; exit 0
fi
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is needed"; exit 1; }
done
tmp=$(mktemp -d)
token=gf-cluster-test-token
cluster=$fx/controller/cluster
spid="" prom_pid=""
stop() {
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null && wait "$1" 2>/dev/null
  return 0
}
cleanup() { stop "$spid"; stop "$prom_pid"; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass=0 fail=0
run() { ${GF_WRAP:-} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
check() { # name, condition...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL: $name"
    echo "--- stdout"; head -15 "$tmp/out"; echo "--- stderr"; head -15 "$tmp/err"
  fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }
jq_ok() { jq -e "$1" "$tmp/out" >/dev/null; }
err_lacks() { ! grep -qF -- "$1" "$tmp/err"; }
requests() { curl -s "$surl/standin/requests" | jq -r '.requests[]'; }
fault() { curl -s -X POST -d "$1" "$surl/standin/faults" >/dev/null; }
put_object() { curl -s -X POST -d "$1" "$surl/standin/objects" >/dev/null; }

"$standin" --port 0 --fixtures "$cluster" --token "$token" >"$tmp/standin.out" 2>"$tmp/standin.err" &
spid=$!
wait_standin_url "$tmp/standin.out" "$tmp/standin.err"
cat >"$tmp/kc.yaml" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: standin
    cluster: {server: "$surl"}
  - name: nowhere
    cluster: {server: "http://127.0.0.1:9"}
users:
  - name: gpufrac
    user: {token: $token}
contexts:
  - name: test
    context: {cluster: standin, user: gpufrac}
  - name: down
    context: {cluster: nowhere, user: gpufrac}
current-context: test
EOF
export KUBECONFIG=$tmp/kc.yaml

# the cluster and the same objects as files give the same answer
run inspect -o json "$cluster"/*.json
cp "$tmp/out" "$tmp/files.json"
run inspect -o json
check "inspect from the cluster: exit 0" rc_is 0
check "inspect from the cluster = from files" cmp -s "$tmp/out" "$tmp/files.json"
check "inspect listed nodes and pods" bash -c "curl -s '$surl/standin/requests' | jq -r '.requests[]' | grep -q '^GET /api/v1/pods?limit='"
run inspect --kubeconfig "$tmp/kc.yaml" --context test
check "inspect --context: table" out_has "CLUSTER: 2 nodes (2 with GPUs), 6 GPUs"
run consolidate --move-non-preemptible always -o json # single non-preemptible replicas
check "consolidate from the cluster: exit 0" rc_is 0
check "consolidate from the cluster: gpu-l4-b drains" jq_ok '.nodes_freed == 1 and .drain[0].node == "gpu-l4-b"'
run simulate --cluster kube --days 0.02 --policies static -q
check "simulate --cluster kube: exit 0" rc_is 0
check "simulate --cluster kube: names the cluster" out_has "cluster $surl"
printf '%s\n' "timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util" \
  "$(date +%s),team-a,chat-7d9f8b6c5d-x2lqf,server,GPU-a,16106127360,0.2" >"$tmp/u.csv"
run explain -u "$tmp/u.csv"
check "explain from the cluster: exit 0" rc_is 0
check "explain from the cluster: a finding on the shared GPU" out_has "FINDING overcommit-memory"
run inspect --context nope
check "unknown context exit 2" rc_is 2
check "unknown context named" err_has '"nope"'

# -n and -l
run inspect -o json -n team-a -n team-x
check "-n: exit 0" rc_is 0
check "-n: pods of team-a listed in team-a" bash -c "curl -s '$surl/standin/requests' | jq -r '.requests[]' | grep -q '^GET /api/v1/namespaces/team-a/pods?'"
check "-n: pods of team-x listed in team-x" bash -c "curl -s '$surl/standin/requests' | jq -r '.requests[]' | grep -q '^GET /api/v1/namespaces/team-x/pods?'"
check "-n: no reservation pods" jq_ok '[.. | objects | select(.namespace? == "kai-resource-reservation")] == []'
check "-n: team-a pods there" jq_ok '[.. | objects | select(.namespace? == "team-a")] | length >= 2'
check "-n: partial view said" err_has "other tenants' allocations are not counted"
run inspect -o json -l app=chat
check "-l: exit 0" rc_is 0
check "-l: the selector sent" bash -c "curl -s '$surl/standin/requests' | jq -r '.requests[]' | grep -q 'labelSelector=app=chat'"
check "-l: only chat" jq_ok '[.. | objects | select(.name? != null and .namespace? != null) | .name] | all(startswith("chat"))'
run inspect -n team-a "$cluster/pods.json"
check "-n with a SNAPSHOT: exit 2" rc_is 2
check "-n with a SNAPSHOT: why" err_has "a SNAPSHOT is filtered when it is taken"
run inspect -n team-a -A
check "-n with -A: exit 2" rc_is 2

# RBAC and a server that does not answer
fault '{"path": "poddisruptionbudgets", "status": 403, "count": 1}'
run inspect -s
check "403 on PDBs: exit 0" rc_is 0
check "403 on PDBs: warned" err_has "cannot list poddisruptionbudgets"
fault '{"path": "/pods", "status": 403, "count": 1}'
run inspect -s
check "403 on pods: exit 1" rc_is 1
check "403 on pods: said" err_has "403"
run inspect -s --context down
check "server down: exit 1" rc_is 1
check "server down: names the server" err_has "127.0.0.1:9"

# recommend without any usage: no data, exit 3
run recommend "$cluster"/*.json
check "no usage: exit 3" rc_is 3
check "no usage: no-data rows" out_has "no-data"
check "no usage: summary" bash -c "grep -qE '^[0-9]+ workloads: 0 upsize, 0 downsize, 0 to a whole GPU, [0-9]+ of [0-9]+ whole-GPU workloads to a fraction, [1-9][0-9]* no data' '$tmp/out'"
check "no usage: said" err_has "no usage at all"

# Prometheus credentials (the stand-in wants the token: 401 without it)
printf '%s\n' "$token" >"$tmp/token"
run recommend --prometheus "$surl" "$cluster"/*.json
check "no token: 401" err_has "HTTP 401"
run recommend --prometheus "$surl" --prometheus-bearer-token-file "$tmp/token" "$cluster"/*.json
check "token sent: past 401" bash -c "grep -q 'HTTP 404' '$tmp/err' && ! grep -q 'HTTP 401' '$tmp/err'"
check "token never printed" err_lacks "$token"
run recommend --prometheus "$surl" --prometheus-bearer-token-file "$tmp/missing" "$cluster"/*.json
check "missing token file: exit 1" rc_is 1
check "missing token file: named" err_has "$tmp/missing"
run recommend --prometheus "$surl" --prometheus-header 'X Bad: 1' "$cluster"/*.json
check "bad header: exit 2" rc_is 2
check "bad header: why" err_has "has a character a header name cannot have"
printf 'no-colon-here\n' >"$tmp/basic"
run recommend --prometheus "$surl" --prometheus-basic-auth-file "$tmp/basic" "$cluster"/*.json
check "bad basic auth file: exit 2" rc_is 2
check "bad basic auth file: why" err_has "expected one line USER:PASSWORD"
run recommend --prometheus-bearer-token-file "$tmp/token" "$cluster"/*.json
check "credentials without a URL: exit 2" rc_is 2

# the cluster's Prometheus, found by its Service and read through the proxy
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  now=$(date +%s)
  start=$((now - 26 * 3600))
  awk -v start=$start 'BEGIN {
    G = 1073741824
    m = "gpufrac_pod_gpu_memory_used_bytes"
    print "# TYPE " m " gauge"
    for (i = 0; i <= 1500; i++)
      printf "%s{namespace=\"team-a\",pod=\"chat-7d9f8b6c5d-x2lqf\",container=\"server\",gpu_uuid=\"GPU-a\",gpu_index=\"0\"} %.0f %d\n", m, 2 * G, start + i * 60
    m = "gpufrac_pod_gpu_sm_utilization_ratio"
    print "# TYPE " m " gauge"
    for (i = 0; i <= 1500; i++)
      printf "%s{namespace=\"team-a\",pod=\"chat-7d9f8b6c5d-x2lqf\",container=\"server\",gpu_uuid=\"GPU-a\",gpu_index=\"0\"} 0.08 %d\n", m, start + i * 60
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
    stop "$prom_pid"; prom_pid=
  done
  check "prometheus started" [ -n "$base" ]
  if [ -n "$base" ]; then
    run recommend -o json
    check "no Prometheus Service: exit 1" rc_is 1
    check "no Prometheus Service: what was tried" err_has "no Prometheus Service found"
    put_object '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "prometheus-operated",
      "namespace": "monitoring", "labels": {"operated-prometheus": "true"},
      "annotations": {"standin.gpufrac.io/proxy-to": "'"$base"'"}},
      "spec": {"ports": [{"name": "web", "port": 9090}]}}'
    run recommend -o json --range 2d
    check "found Prometheus: exit 0" rc_is 0
    check "found Prometheus: said which" err_has "Prometheus: Service monitoring/prometheus-operated port 9090 (found by the label operated-prometheus=true)"
    check "found Prometheus: through the service proxy" bash -c "curl -s '$surl/standin/requests' | jq -r '.requests[]' | grep -q '^GET /api/v1/namespaces/monitoring/services/prometheus-operated:9090/proxy/api/v1/query_range'"
    check "found Prometheus: samples" jq_ok '.samples.added > 1000'
    check "found Prometheus: chat has data" jq_ok '.recommendations[] | select(.workload == "team-a/chat") | .action != "no-data"'
    check "found Prometheus: embed has none" jq_ok '.summary.no_data >= 1'
    # the series end an hour ago: stale by their own times, per workload and node
    check "stale workloads said" err_has "workloads' newest usage sample is older than 600 s (e.g. team-a/Deployment/chat: 1h"
    check "stale node said" err_has "node gpu-l4-a: the newest usage sample of its GPU pods is 1h"
    check "sample age in the JSON" jq_ok '.recommendations[] | select(.workload == "team-a/chat") | .sample_age_seconds > 3500 and .sample_age_seconds < 4000'
  fi
else
  echo "SKIP: prometheus not installed (scripts/deps.sh --test installs it)"
fi

echo "cli_cluster: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
