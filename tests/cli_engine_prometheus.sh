#!/usr/bin/env bash
# cli_engine_prometheus.sh - integration test of the inference engines' own
# metrics through a real Prometheus (the Debian `prometheus` package, 2.42):
# 25 hours of vLLM, SGLang and TGI metrics, by the names and labels the
# engines export (vllm:kv_cache_usage_perc and its older
# vllm:gpu_cache_usage_perc, vllm:num_requests_waiting / _running,
# vllm:num_preemptions_total with model_name and engine; sglang:token_usage,
# sglang:num_queue_reqs, sglang:num_retracted_requests_total; tgi_queue_size;
# Triton's TensorRT-LLM gauges, whole families as Triton exposes them:
# nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=fraction|used|free|
# max|tokens_per} and nv_trt_llm_request_metrics{request_type=waiting|
# context|scheduled|max|active} with model and version, tensorrtllm_backend
# README "Triton Metrics")
# plus the namespace and pod labels Prometheus's Kubernetes service
# discovery adds, and the exporter's memory gauge flat at 95% of each
# allocation, are backfilled with promtool into a temporary TSDB; Prometheus
# serves it on a free loopback port (readiness waited for with a deadline).
# Then `gpufrac recommend` reads it live (--prometheus) and from answers
# saved from it (--prom-file), on tests/fixtures/engines/cluster.json:
#   - vLLM, 0.5 with --gpu-memory-utilization 0.5, KV 30%, no queue: not
#     upsized on NVML memory, downsized to 0.35 on the KV cache, the flag
#     moved with it in the same patch;
#   - SGLang, 0.4 with --mem-fraction-static=0.4, KV 95% with requests
#     queued and retracted in the last hour: upsized to 0.55 on the KV cache (0.38 held x 1.15 x 1.2);
#   - TGI, 0.3 with CUDA_MEMORY_FRACTION (no KV metric): kept, not upsized
#     on NVML memory;
#   - TensorRT-LLM in Triton, 0.4, KV fraction 95% with 3 requests waiting
#     in the last hour: upsized to 0.55 on the KV cache (the block counts,
#     6239 blocks, 512 max requests, are not read as the signals).
#   usage: cli_engine_prometheus.sh GPUFRAC FIXTURES_DIR
# Skipped (exit 0, "SKIP") only when prometheus or promtool is not installed.
set -u
gf=$1 fx=$2
for tool in prometheus promtool; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (scripts/deps.sh --test installs it)"; exit 0
  fi
done
for tool in curl jq awk; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is needed"; exit 1; }
done

tmp=$(mktemp -d)
prom_pid=""
stop() { # PID: TERM, then KILL after 5 s
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
cleanup() { stop "$prom_pid"; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass=0 fail=0
check() { # name, condition...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; fi
}
die() {
  echo "FAIL: $*"
  echo "--- prometheus log"; tail -20 "$tmp/prom.log" 2>/dev/null
  exit 1
}
snap=$fx/engines/cluster.json
start=1795507200 # 2026-11-24T08:00:00Z
hours=25
end=$((start + hours * 3600))

# --- the metrics, as the engines and the exporter publish them ------------------------
awk -v start=$start -v n=$((hours * 60 + 1)) -f - >"$tmp/engines.om" <<'EOF'
function sd(ns, pod, ctr, port) { # the labels Kubernetes service discovery adds
  return sprintf("namespace=\"%s\",pod=\"%s\",container=\"%s\",service=\"%s\",endpoint=\"metrics\",instance=\"10.244.1.%d:%d\",job=\"%s/%s\"",
                 ns, pod, ctr, ctr, port % 200, port, ns, ctr)
}
function series(name, labels, kind,   i, t, v) {
  for (i = 0; i < n; i++) {
    t = start + i * 60
    v = value(kind, i)
    printf "%s{%s} %s %d\n", name, labels, v, t
  }
}
function value(kind, i,   late) {
  late = i >= n - 60 # the last hour
  if (kind == "vllm_mem") return sprintf("%.0f", 0.95 * 0.5 * 23034 * 1048576)
  if (kind == "sgl_mem") return sprintf("%.0f", 0.95 * 0.4 * 23034 * 1048576)
  if (kind == "tgi_mem") return sprintf("%.0f", 0.95 * 0.3 * 23034 * 1048576)
  if (kind == "trt_mem") return sprintf("%.0f", 0.95 * 0.4 * 23034 * 1048576)
  if (kind == "trt_fraction") return late ? "0.95" : "0.5"
  if (kind == "trt_used") return late ? "5927" : "3119"
  if (kind == "trt_free") return late ? "312" : "3120"
  if (kind == "trt_max") return "6239"
  if (kind == "trt_tokens") return "64"
  if (kind == "trt_waiting") return late ? "3" : "0"
  if (kind == "trt_maxreq") return "512"
  if (kind == "vllm_kv") return sprintf("%.4f", 0.22 + 0.08 * ((i * 37) % 11) / 10)
  if (kind == "zero") return "0"
  if (kind == "running") return sprintf("%d", 3 + (i % 5))
  if (kind == "sgl_kv") return late ? "0.95" : "0.6"
  if (kind == "sgl_queue") return late ? "4" : "0"
  if (kind == "sgl_retracted") return late ? sprintf("%d", i - (n - 60)) : "0"
  return "NaN"
}
BEGIN {
  vllm = sd("team-a", "chat-vllm-6b8f9c7d5e-q2x7k", "vllm", 8000)
  vm = vllm ",model_name=\"meta-llama/Llama-3.1-8B-Instruct\",engine=\"0\""
  sgl = sd("team-a", "sgl-7c9d8e6f5a-m4n8p", "sglang", 30000)
  sm = sgl ",model_name=\"Qwen/Qwen2.5-7B-Instruct\",tp_rank=\"0\",pp_rank=\"0\",moe_ep_rank=\"0\""
  tgi = sd("team-b", "tgi-5d6e7f8a9b-r3s5t", "tgi", 3000)
  trt = sd("team-b", "trt-8e9f0a1b2c-u6v8w", "triton", 8002) ",model=\"tensorrt_llm\",version=\"1\""
  m = "gpufrac_pod_gpu_memory_used_bytes"
  print "# TYPE " m " gauge"
  series(m, "namespace=\"team-a\",pod=\"chat-vllm-6b8f9c7d5e-q2x7k\",container=\"vllm\",gpu_uuid=\"GPU-0a1b\",gpu_index=\"0\"", "vllm_mem")
  series(m, "namespace=\"team-a\",pod=\"sgl-7c9d8e6f5a-m4n8p\",container=\"sglang\",gpu_uuid=\"GPU-1b2c\",gpu_index=\"1\"", "sgl_mem")
  series(m, "namespace=\"team-b\",pod=\"tgi-5d6e7f8a9b-r3s5t\",container=\"tgi\",gpu_uuid=\"GPU-2c3d\",gpu_index=\"2\"", "tgi_mem")
  series(m, "namespace=\"team-b\",pod=\"trt-8e9f0a1b2c-u6v8w\",container=\"triton\",gpu_uuid=\"GPU-3d4e\",gpu_index=\"3\"", "trt_mem")
  print "# TYPE vllm:kv_cache_usage_perc gauge"
  series("vllm:kv_cache_usage_perc", vm, "vllm_kv")
  print "# TYPE vllm:gpu_cache_usage_perc gauge"
  series("vllm:gpu_cache_usage_perc", vm, "vllm_kv")
  print "# TYPE vllm:num_requests_waiting gauge"
  series("vllm:num_requests_waiting", vm, "zero")
  print "# TYPE vllm:num_requests_running gauge"
  series("vllm:num_requests_running", vm, "running")
  print "# TYPE vllm:num_preemptions counter"
  series("vllm:num_preemptions_total", vm, "zero")
  print "# TYPE sglang:token_usage gauge"
  series("sglang:token_usage", sm, "sgl_kv")
  print "# TYPE sglang:num_queue_reqs gauge"
  series("sglang:num_queue_reqs", sm, "sgl_queue")
  print "# TYPE sglang:num_running_reqs gauge"
  series("sglang:num_running_reqs", sm, "running")
  print "# TYPE sglang:num_retracted_requests counter"
  series("sglang:num_retracted_requests_total", sm, "sgl_retracted")
  print "# TYPE tgi_queue_size gauge"
  series("tgi_queue_size", tgi, "zero")
  k = "nv_trt_llm_kv_cache_block_metrics"
  print "# TYPE " k " gauge"
  series(k, trt ",kv_cache_block_type=\"fraction\"", "trt_fraction")
  series(k, trt ",kv_cache_block_type=\"used\"", "trt_used")
  series(k, trt ",kv_cache_block_type=\"free\"", "trt_free")
  series(k, trt ",kv_cache_block_type=\"max\"", "trt_max")
  series(k, trt ",kv_cache_block_type=\"tokens_per\"", "trt_tokens")
  r = "nv_trt_llm_request_metrics"
  print "# TYPE " r " gauge"
  series(r, trt ",request_type=\"waiting\"", "trt_waiting")
  series(r, trt ",request_type=\"context\"", "running")
  series(r, trt ",request_type=\"scheduled\"", "running")
  series(r, trt ",request_type=\"active\"", "running")
  series(r, trt ",request_type=\"max\"", "trt_maxreq")
  print "# EOF"
}
EOF
promtool tsdb create-blocks-from openmetrics "$tmp/engines.om" "$tmp/tsdb" >"$tmp/promtool.log" 2>&1 ||
  { cat "$tmp/promtool.log"; die "promtool could not backfill the metrics"; }

# --- Prometheus on a free port (retried if another process takes it first) -----------
printf 'global: {scrape_interval: 15s}\n' >"$tmp/prometheus.yml"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=""
for attempt in 1 2 3 4 5; do
  p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
  port_free "$p" || continue
  prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
    --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$p" --log.level=warn \
    >"$tmp/prom.log" 2>&1 &
  prom_pid=$!
  for _ in $(seq 1 200); do
    if curl -sf "http://127.0.0.1:$p/-/ready" >/dev/null 2>&1; then base="http://127.0.0.1:$p"; break; fi
    kill -0 "$prom_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$base" ] && break
  stop "$prom_pid"; prom_pid=""
  echo "prometheus did not start on port $p (attempt $attempt); retrying"
done
[ -n "$base" ] || die "prometheus did not start"

# the backfilled blocks are served at once; check one value before going on
curl -s -G "$base/api/v1/query" --data-urlencode 'query=sglang:token_usage' \
  --data-urlencode "time=$end" >"$tmp/q.json"
[ "$(jq -r '.data.result[0].value[1]' "$tmp/q.json")" = 0.95 ] || die "the backfilled data is not served"

run() { "$gf" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
rec() { # WORKLOAD JQ: true when the recommendation of WORKLOAD passes JQ
  jq -e --arg w "$1" ".recommendations[] | select(.workload == \$w) | $2" "$tmp/out" >/dev/null
}
out_has() { grep -qF -- "$1" "$tmp/out"; }

expect_recommendations() { # LABEL
  check "$1: vllm downsized on the KV cache" rec team-a/chat-vllm \
    '.action == "downsize" and .recommended == 0.35 and .decided_by == "kv-cache"'
  check "$1: vllm is preallocating, its cap moves" rec team-a/chat-vllm \
    '.engine.name == "vllm" and .engine.class == "preallocating" and .engine.new_cap == 0.35'
  check "$1: vllm reason" rec team-a/chat-vllm \
    '.reason | test("vllm KV cache peak 30% over 1d")'
  check "$1: sglang upsized on a full KV cache with a queue" rec team-a/sgl \
    '.action == "upsize" and .recommended == 0.55 and .decided_by == "kv-cache"'
  check "$1: sglang reason" rec team-a/sgl \
    '.reason | test("sglang KV cache 95% full over the last 5m .* with 4 request\\(s\\) waiting")'
  check "$1: tgi (no KV metric) not upsized on NVML memory" rec team-b/tgi \
    '.action == "keep" and .engine.class == "preallocating"'
  check "$1: tensorrt-llm upsized on its KV fraction with requests waiting" rec team-b/trt \
    '.action == "upsize" and .recommended == 0.55 and .decided_by == "kv-cache" and .engine.name == "tensorrt-llm"'
  check "$1: tensorrt-llm reason" rec team-b/trt \
    '.reason | test("tensorrt-llm KV cache 95% full over the last 5m .* with 3 request\\(s\\) waiting")'
  check "$1: engine samples counted" jq -e '.samples.engine_added > 0' "$tmp/out" >/dev/null
}

# --- live: --prometheus -------------------------------------------------------------------
run recommend --prometheus "$base" --now "$end" --range ${hours}h -o json "$snap"
check "live: exit 0" rc_is 0
expect_recommendations live
[ "$fail" = 0 ] || [ -n "${GF_QUIET:-}" ] || { cat "$tmp/err"; jq -c '.recommendations[] | [.workload, .action, .recommended, .decided_by, .reason]' "$tmp/out"; }

run recommend --prometheus "$base" --now "$end" --range ${hours}h --patches "$snap"
check "patches: exit 0" rc_is 0
check "patches: vllm's flag moves in the same strategic patch" out_has \
  "kubectl patch deployment 'chat-vllm' -n 'team-a' --type strategic -p '{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"gpu-fraction\":\"0.35\"}},\"spec\":{\"containers\":[{\"args\":[\"--model\",\"meta-llama/Llama-3.1-8B-Instruct\",\"--gpu-memory-utilization\",\"0.35\",\"--max-model-len\",\"8192\"],\"name\":\"vllm\"}]}}}}'"
check "patches: sglang's --flag=value form" out_has '"args":["--model-path","Qwen/Qwen2.5-7B-Instruct","--mem-fraction-static=0.55","--enable-metrics"'
check "patches: the cap line" out_has "# team-a/Deployment/chat-vllm: --gpu-memory-utilization 0.5 -> 0.35 with the fraction"

# --- saved answers: --prom-file (raw series, by name; counters become rates) ----------
save() { # NAME QUERY
  curl -s -G "$base/api/v1/query_range" --data-urlencode "query=$2" --data-urlencode "start=$start" \
    --data-urlencode "end=$end" --data-urlencode "step=60" >"$tmp/$1.json"
  jq -e '.status == "success" and (.data.result | length) > 0' "$tmp/$1.json" >/dev/null ||
    die "saving $1: $(head -c 300 "$tmp/$1.json")"
}
files=()
for q in gpufrac_pod_gpu_memory_used_bytes vllm:kv_cache_usage_perc vllm:num_requests_waiting \
  vllm:num_preemptions_total sglang:token_usage sglang:num_queue_reqs \
  sglang:num_retracted_requests_total tgi_queue_size nv_trt_llm_kv_cache_block_metrics \
  nv_trt_llm_request_metrics; do
  name=${q//:/_}
  save "$name" "$q"
  files+=(--prom-file "$tmp/$name.json")
done
run recommend "${files[@]}" --now "$end" -o json "$snap"
check "saved: exit 0" rc_is 0
expect_recommendations saved
# the older vLLM name alone is read as the KV-cache use too
save vllm_gpu_cache vllm:gpu_cache_usage_perc
run recommend --prom-file "$tmp/gpufrac_pod_gpu_memory_used_bytes.json" \
  --prom-file "$tmp/vllm_gpu_cache.json" --now "$end" -o json "$snap"
check "old name: vllm downsized on the KV cache" rec team-a/chat-vllm \
  '.action == "downsize" and .decided_by == "kv-cache"'
# no engine metrics at all: the engine rules have nothing, NVML memory still never upsizes
run recommend --prom-file "$tmp/gpufrac_pod_gpu_memory_used_bytes.json" --now "$end" -o json "$snap"
check "memory only: exit 0" rc_is 0
check "memory only: vllm kept, not upsized" rec team-a/chat-vllm '.action == "keep"'
check "memory only: no engine samples" jq -e '.samples.engine_added == 0' "$tmp/out" >/dev/null

echo "cli_engine_prometheus: $pass passed, $fail failed"
[ "$fail" = 0 ]
