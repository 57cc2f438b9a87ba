#!/usr/bin/env bash
# cli_exporter_prometheus.sh - integration test of gpufrac-exporter with a
# real Prometheus (the Debian `prometheus` package, 2.42): the exporter runs
# on a free loopback port with the fake NVML and the node fixtures,
# Prometheus scrapes it every second into a temporary TSDB, and the test
# waits (up to 30 s) until /api/v1/query returns the expected per-pod values,
# then checks further metrics. The exporter runs with --min-interval 0, so
# every scrape is a fresh collection (no replay window for jitter to hit),
# and a check that needs a later scrape waits for it with a deadline. Both processes are stopped and the temporary
# folder removed on every exit path.
#   usage: cli_exporter_prometheus.sh GPUFRAC FIXTURES_DIR EXPORTER FAKE_NVML_SO
# Skipped (exit 0, "SKIP") only when prometheus is not installed (or the
# exporter was not built).
set -u
fx=$2 exp=${3:-} fake=${4:-}
if [ -z "$exp" ] || [ -z "$fake" ]; then
  echo "SKIP: gpufrac-exporter or the fake NVML not built"; exit 0
fi
if ! command -v prometheus >/dev/null; then
  echo "SKIP: prometheus is not installed (scripts/deps.sh --test installs it)"; exit 0
fi
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is needed"; exit 1; }
done

tmp=$(mktemp -d)
exp_pid="" prom_pid=""
stop() { # PID: TERM, then KILL after 5 s
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
cleanup() { stop "$prom_pid"; stop "$exp_pid"; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass=0 fail=0
check() { # name, condition...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; fi
}
die() {
  echo "FAIL: $*"
  echo "--- exporter log"; tail -20 "$tmp/exp.err" 2>/dev/null
  echo "--- prometheus log"; tail -20 "$tmp/prom.log" 2>/dev/null
  exit 1
}

# --- the exporter on a port the kernel picks -----------------------------------------
GPUFRAC_FAKE_NVML_SCRIPT="$fx/exporter/node.nvml" "$exp" --listen 127.0.0.1:0 \
  --min-interval 0 --nvml-lib "$fake" --proc-root "$fx/exporter/proc" --node-name gpu-node-1 \
  --pods-file "$fx/exporter/pods-kubelet.json" 2>"$tmp/exp.err" &
exp_pid=$!
exp_port=""
for _ in $(seq 1 100); do
  exp_port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' "$tmp/exp.err")
  [ -n "$exp_port" ] && break
  kill -0 "$exp_pid" 2>/dev/null || die "the exporter exited"
  sleep 0.1
done
[ -n "$exp_port" ] || die "the exporter did not report its port"
# readiness without consuming a scrape (the first one carries the utilisation samples)
[ "$(curl -s "http://127.0.0.1:$exp_port/healthz")" = ok ] || die "/healthz"

# --- Prometheus on a free port (retried if another process takes it first) -----------
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gpufrac
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:$exp_port']
        # what the ServiceMonitor's relabeling adds (deploy/base/monitoring)
        labels: {node: gpu-node-1}
EOF
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
prom_port=""
for attempt in 1 2 3 4 5; do
  p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
  port_free "$p" || continue
  rm -rf "$tmp/tsdb"
  prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
    --web.listen-address="127.0.0.1:$p" --log.level=warn >"$tmp/prom.log" 2>&1 &
  prom_pid=$!
  for _ in $(seq 1 200); do
    if curl -sf "http://127.0.0.1:$p/-/ready" >/dev/null 2>&1; then prom_port=$p; break; fi
    kill -0 "$prom_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$prom_port" ] && break
  stop "$prom_pid"; prom_pid=""
  echo "prometheus did not start on port $p (attempt $attempt); retrying"
done
[ -n "$prom_port" ] || die "prometheus did not start"

query() { # PROMQL -> the answer's JSON in $tmp/q.json; 0 when status is success
  curl -s -G "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" \
    >"$tmp/q.json" && jq -e '.status == "success"' "$tmp/q.json" >/dev/null
}
# value PROMQL JQ-FILTER: the value of the single series the filter keeps
value() {
  query "$1" || { echo none; return; }
  jq -r "[.data.result[] | select($2) | .value[1]] | if length == 1 then .[0] else \"none\" end" \
    "$tmp/q.json"
}

# eventually SECS PROMQL JQ-FILTER WANT: 0 once the value is WANT, polled every
# 0.2 s until SECS have passed (for checks that need a later scrape)
eventually() {
  local secs=$1 q=$2 f=$3 want=$4 got
  local deadline=$((SECONDS + secs))
  while :; do
    got=$(value "$q" "$f")
    [ "$got" = "$want" ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && { echo "  $q: $got after ${secs}s, want $want"; return 1; }
    sleep 0.2
  done
}

# --- wait until every pod's memory is in -------------------------------------------------
expected=(
  '.metric.pod == "llm-chat-0" and .metric.container == "server"|8589934592'
  '.metric.pod == "embedder-0" and .metric.container == "embed"|3221225472'
  '.metric.pod == "reranker-0" and .metric.gpu_index == "0"|1073741824'
  '.metric.pod == "reranker-0" and .metric.gpu_index == "1"|3221225472'
  '.metric.pod == "train-0"|10737418240'
  '.metric.pod == "idle-0" and .metric.container == "main"|0'
  '.metric.namespace == "kube-system"|67108864'
  '.metric.unattributed == "host"|524288000'
)
ok=0
for _ in $(seq 1 60); do
  ok=1
  for e in "${expected[@]}"; do
    [ "$(value gpufrac_pod_gpu_memory_used_bytes "${e%|*}")" = "${e##*|}" ] || { ok=0; break; }
  done
  [ "$ok" = 1 ] && break
  sleep 0.5
done
[ "$ok" = 1 ] || { jq -c '.data.result[] | [.metric.pod, .metric.container, .metric.gpu_index, .value[1]]' "$tmp/q.json" 2>/dev/null | head; die "the per-pod memory did not arrive within 30 s"; }
for e in "${expected[@]}"; do
  check "memory ${e%|*}" [ "$(value gpufrac_pod_gpu_memory_used_bytes "${e%|*}")" = "${e##*|}" ]
done

# --- further metrics, as Prometheus stored them --------------------------------------------
check "target up" [ "$(value 'up{job="gpufrac"}' 'true')" = 1 ]
check "nvml up" [ "$(value gpufrac_exporter_nvml_up 'true')" = 1 ]
check "three GPUs" [ "$(value 'count(gpufrac_gpu_info)' 'true')" = 3 ]
check "gpu info labels" [ "$(value gpufrac_gpu_info '.metric.gpu_index == "2" and .metric.model == "NVIDIA A100-SXM4-80GB"')" = 1 ]
check "gpu memory total" [ "$(value gpufrac_gpu_memory_total_bytes '.metric.gpu_uuid == "GPU-aaaaaaaa-0000-4000-8000-000000000000"')" = 24152899584 ]
check "gpu sm" [ "$(value gpufrac_gpu_sm_utilization_ratio '.metric.gpu_index == "2"')" = 0.9 ]
check "fraction" [ "$(value gpufrac_pod_gpu_allocated_fraction '.metric.pod == "llm-chat-0"')" = 0.5 ]
check "gpu-memory fraction" [ "$(value gpufrac_pod_gpu_allocated_fraction '.metric.pod == "embedder-0"')" = 0.17782408613354173 ]
check "memory used ratio" [ "$(value gpufrac_pod_gpu_memory_used_ratio '.metric.pod == "embedder-0"')" = 0.75 ]
check "whole GPU" [ "$(value gpufrac_pod_gpu_allocated_memory_bytes '.metric.pod == "train-0"')" = 85899345920 ]
# the first scrape read the samples; later ones find none new (idle: 0)
check "sm, first scrape" [ "$(value 'max_over_time(gpufrac_pod_gpu_sm_utilization_ratio{pod="llm-chat-0"}[5m])' 'true')" = 0.4 ]
check "sm ratio, first scrape" [ "$(value 'max_over_time(gpufrac_pod_gpu_sm_used_ratio{pod="llm-chat-0"}[5m])' 'true')" = 0.8 ]
check "sm, later scrapes" eventually 30 'gpufrac_pod_gpu_sm_utilization_ratio{pod="llm-chat-0"}' 'true' 0
# an empty namespace label is no label in Prometheus
check "unattributed has no namespace" [ "$(value 'gpufrac_pod_gpu_memory_used_bytes{unattributed="unknown_pod"}' '(.metric | has("namespace") | not) and .metric.pod == "unattributed"')" = 268435456 ]
check "recommender's selector" [ "$(value 'count(gpufrac_pod_gpu_memory_used_bytes{namespace!=""})' 'true')" = 7 ]
check "errors counter" [ "$(value 'sum(gpufrac_exporter_nvml_errors_total)' 'true')" = 0 ]
check "pod list" [ "$(value gpufrac_exporter_pod_list_pods 'true')" = 9 ]
# every sample of a scrape was taken (as many as the exposition has sample lines)
lines=$(curl -s "http://127.0.0.1:$exp_port/metrics" | grep -vc '^#')
check "all samples ingested" [ "$(value 'scrape_samples_scraped{job="gpufrac"}' 'true')" = "$lines" ]

# --- every query of the Grafana dashboard, against what Prometheus stored -------------
# Variables at "All" (.*), $__rate_interval as Grafana's minimum (1m). Every
# query must be valid; those over the exporter's metrics must find series.
dash=${GF_SOURCE_DIR:-$(dirname "$0")/..}/deploy/base/dashboard/grafana-dashboard.json
jq_true() { jq -e "$1" "$2" >/dev/null; }
if [ -f "$dash" ]; then
  while IFS= read -r expr; do
    q=$(printf '%s' "$expr" | sed -e 's/\$__rate_interval/1m/g' -e 's/\$[a-z_]*/.*/g')
    check "dashboard query valid: $expr" query "$q"
    case $expr in
      *gpufrac_pod_*|*gpufrac_gpu_*|*gpufrac_exporter_*)
        check "dashboard query finds series: $expr" jq_true '.data.result | length > 0' "$tmp/q.json" ;;
    esac
  done < <(jq -r '.panels[] | .targets[]? | .expr' "$dash")
  while IFS= read -r def; do
    metric=$(printf '%s' "$def" | sed -n 's/^label_values(\([a-z_]*\).*, *\([a-z_]*\))$/\1 \2/p')
    [ -n "$metric" ] || continue
    set -- $metric
    curl -s -G "http://127.0.0.1:$prom_port/api/v1/label/$2/values" --data-urlencode "match[]=$1" >"$tmp/l.json"
    case $1 in
      gpufrac_pod_*|gpufrac_gpu_*) check "dashboard variable has values: $def" jq_true '.data | length > 0' "$tmp/l.json" ;;
      *) check "dashboard variable valid: $def" jq_true '.status == "success"' "$tmp/l.json" ;;
    esac
  done < <(jq -r '.templating.list[] | select(.type == "query") | .definition' "$dash")
  check "dashboard: the exporter's panels are there" \
    bash -c "jq -r '.panels[].title' '$dash' | grep -c -e 'Per pod: GPU memory used vs allocated' -e 'Per pod: SM used' -e 'Per GPU: memory used' -e 'Per GPU: SM' -e 'Stranded fraction' -e 'NVML health' | grep -qx 6"
else
  echo "SKIP: dashboard checks ($dash not found)"
fi

echo "cli_exporter_prometheus: $pass passed, $fail failed"
[ "$fail" = 0 ]
