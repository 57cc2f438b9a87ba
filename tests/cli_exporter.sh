#!/usr/bin/env bash
# cli_exporter.sh - gpufrac-exporter through the real binary with the fake
# NVML: `--once` metric values, exit codes and messages, device-less runs,
# and the HTTP server (/metrics, /healthz, SIGTERM).
#   usage: cli_exporter.sh GPUFRAC FIXTURES_DIR EXPORTER FAKE_NVML_SO
# GF_WRAP (e.g. valgrind ...) is put before every run of the exporter.
set -u
fx=$2 exp=${3:-} fake=${4:-}
if [ -z "$exp" ] || [ -z "$fake" ]; then
  echo "SKIP: gpufrac-exporter or the fake NVML not built"; exit 0
fi
pass=0 fail=0
tmp=$(mktemp -d)
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export GPUFRAC_FAKE_NVML_SCRIPT="$fx/exporter/node.nvml"
node=(--nvml-lib "$fake" --proc-root "$fx/exporter/proc" --node-name gpu-node-1)
run() { ${GF_WRAP:-} "$exp" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
check() { # name, condition...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; echo "--- stdout"; grep -v '^#' "$tmp/out" | head -30; echo "--- stderr"; head -20 "$tmp/err"; fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }
# value METRIC LABEL-SUBSTRING...: the value of the one sample whose line has every substring
value() {
  local m=$1; shift
  local lines; lines=$(grep -E "^$m(\{| )" "$tmp/out")
  for s in "$@"; do lines=$(grep -F -- "$s" <<<"$lines"); done
  [ "$(grep -c . <<<"$lines")" = 1 ] || { echo "no single sample of $m $*" >&2; echo "none"; return; }
  awk '{ print $NF }' <<<"$lines"
}
is() { # METRIC VALUE LABELS...
  local m=$1 want=$2; shift 2
  [ "$(value "$m" "$@")" = "$want" ]
}
near() { # METRIC VALUE LABELS... (within 1e-9)
  local m=$1 want=$2; shift 2
  awk -v a="$(value "$m" "$@")" -v b="$want" 'BEGIN { d = a - b; exit !(a != "none" && d < 1e-9 && d > -1e-9) }'
}

# --- one scrape of the node scenario -------------------------------------------
run --once "${node[@]}" --pods-file "$fx/exporter/pods-kubelet.json"
check "once exit 0" rc_is 0
check "nvml up" is gpufrac_exporter_nvml_up 1
check "three GPUs" bash -c "[ \$(grep -c '^gpufrac_gpu_info{' '$tmp/out') = 3 ]"
check "gpu info" out_has 'gpufrac_gpu_info{gpu_uuid="GPU-cccccccc-0000-4000-8000-000000000000",gpu_index="2",model="NVIDIA A100-SXM4-80GB"} 1'
check "gpu memory total" is gpufrac_gpu_memory_total_bytes 24152899584 'gpu_index="0"'
check "gpu memory used (v2, without reserved)" is gpufrac_gpu_memory_used_bytes 12884901888 'gpu_index="0"'
check "gpu sm" is gpufrac_gpu_sm_utilization_ratio 0.6 'gpu_index="0"'
check "pod memory" is gpufrac_pod_gpu_memory_used_bytes 8589934592 'pod="llm-chat-0"' 'container="server"'
check "pod memory, two processes" is gpufrac_pod_gpu_memory_used_bytes 3221225472 'pod="embedder-0"'
check "pod sm, latest sample" is gpufrac_pod_gpu_sm_utilization_ratio 0.4 'pod="llm-chat-0"'
check "pod sm summed" is gpufrac_pod_gpu_sm_utilization_ratio 0.2 'pod="embedder-0"'
check "fraction" is gpufrac_pod_gpu_allocated_fraction 0.5 'pod="llm-chat-0"'
check "gpu-memory as a fraction" near gpufrac_pod_gpu_allocated_fraction 0.17782408613354173 'pod="embedder-0"'
check "allocated memory" is gpufrac_pod_gpu_allocated_memory_bytes 4294967296 'pod="embedder-0"'
check "memory used ratio" is gpufrac_pod_gpu_memory_used_ratio 0.75 'pod="embedder-0"'
check "sm used ratio" near gpufrac_pod_gpu_sm_used_ratio 0.8 'pod="llm-chat-0"'
check "multi-device on GPU 1" is gpufrac_pod_gpu_allocated_fraction 0.3 'pod="reranker-0"' 'gpu_index="1"'
check "whole GPU" is gpufrac_pod_gpu_allocated_fraction 1 'pod="train-0"'
check "idle pod at 0" is gpufrac_pod_gpu_memory_used_bytes 0 'pod="idle-0"' 'container="main"'
check "static pod" is gpufrac_pod_gpu_memory_used_bytes 67108864 'namespace="kube-system"'
check "no allocation, no ratio" bash -c "! grep -q 'gpufrac_pod_gpu_allocated_fraction{namespace=\"kube-system\"' '$tmp/out'"
check "unattributed host" is gpufrac_pod_gpu_memory_used_bytes 524288000 'namespace="",pod="unattributed",container=""' 'unattributed="host"'
check "unattributed unknown pod" is gpufrac_pod_gpu_memory_used_bytes 268435456 'unattributed="unknown_pod"'
check "unattributed exited" is gpufrac_pod_gpu_memory_used_bytes 134217728 'unattributed="no_process"'
check "pod list counted" is gpufrac_exporter_pod_list_pods 9
check "no NVML errors" bash -c "! grep -E '^gpufrac_exporter_nvml_errors_total\{.*\} [1-9]' '$tmp/out'"
check "driver version" out_has 'driver_version="550.54.15"'
check "text format: HELP before TYPE" bash -c "awk '/^# HELP/ { h[\$3] = NR } /^# TYPE/ { if (!(\$3 in h) || h[\$3] != NR - 1) bad = 1 } END { exit bad }' '$tmp/out'"
check "exited process logged" err_has "process 1009:"
check "unknown pod logged" err_has "pod UID 66666666-6666-4666-8666-666666666666 is not in the pod list"

# the API server's PodList shape (mirror pod) gives the same attribution
run --once "${node[@]}" --pods-file "$fx/exporter/pods-api.json"
check "api shape exit 0" rc_is 0
check "api shape static pod" is gpufrac_pod_gpu_memory_used_bytes 67108864 'namespace="kube-system"'

# --- NVML absent or broken: device-less, never a crash ---------------------------
run --once --nvml-lib /nonexistent/libnvidia-ml.so.1 --pods-file "$fx/exporter/pods-kubelet.json"
check "no library exit 1" rc_is 1
check "no library: nvml_up 0" is gpufrac_exporter_nvml_up 0
check "no library: no GPUs" bash -c "! grep -q '^gpufrac_gpu_info{' '$tmp/out'"
check "no library: self-metrics" out_has "gpufrac_exporter_build_info{"
check "no library message" err_has "cannot load the NVML library"
GPUFRAC_NVML_LIB=libm.so.6 run --once
check "not NVML exit 1" rc_is 1
check "not NVML message" err_has "the library has no nvmlInit_v2 (or nvmlInit)"
printf 'init_error DRIVER_NOT_LOADED\n' >"$tmp/noinit.nvml"
GPUFRAC_FAKE_NVML_SCRIPT="$tmp/noinit.nvml" run --once "${node[@]}"
check "init failure exit 1" rc_is 1
check "init failure counted" is gpufrac_exporter_nvml_errors_total 1 'call="nvmlInit"'
check "init failure message" err_has "nvmlInit_v2 failed: DRIVER_NOT_LOADED"
GPUFRAC_NVML_DISABLE=nvmlDeviceGetProcessUtilization run --once "${node[@]}" --pods-file "$fx/exporter/pods-kubelet.json"
check "no process SM: exit 0" rc_is 0
check "no process SM: memory still" is gpufrac_pod_gpu_memory_used_bytes 8589934592 'pod="llm-chat-0"'
check "no process SM: no SM series" bash -c "! grep -q '^gpufrac_pod_gpu_sm_utilization_ratio{' '$tmp/out'"
check "no process SM: logged" err_has "no nvmlDeviceGetProcessUtilization"
{ cat "$fx/exporter/node.nvml"; echo "error nvmlDeviceGetMemoryInfo UNKNOWN device=GPU-aaaaaaaa-0000-4000-8000-000000000000"; } >"$tmp/memerr.nvml"
GPUFRAC_FAKE_NVML_SCRIPT="$tmp/memerr.nvml" run --once "${node[@]}" --pods-file "$fx/exporter/pods-kubelet.json"
check "device error exit 0" rc_is 0
check "device error NaN" is gpufrac_gpu_memory_total_bytes NaN 'gpu_index="0"'
check "device error counted" is gpufrac_exporter_nvml_errors_total 1 'call="nvmlDeviceGetMemoryInfo"'
check "other GPUs fine" is gpufrac_gpu_memory_total_bytes 85899345920 'gpu_index="2"'

# --- usage and input errors -------------------------------------------------------
run --help
check "help exit 0" rc_is 0
check "help lists flags" bash -c "grep -q -- '--pods-file' '$tmp/out' && grep -q -- '--kubelet-url' '$tmp/out' && grep -q -- '--min-interval' '$tmp/out'"
run --version
check "version" out_has "gpufrac-exporter 0.1.0"
run --bogus
check "unknown option exit 2" rc_is 2
check "unknown option message" err_has "unknown option '--bogus'"
run --once --pods-file a.json --kubelet-url https://x:10250
check "two sources exit 2" rc_is 2
run --once --pods-refresh 0
check "bad refresh exit 2" rc_is 2
run --listen 9402
check "bad listen exit 2" rc_is 2
check "bad listen message" err_has "expected ADDR:PORT or :PORT"
run --once --apiserver-url https://kubernetes.default.svc --node-name ""
check "apiserver without node exit 2" rc_is 2
check "apiserver without node message" err_has "needs the node name"
run --once --token-file /x --pods-file a.json
check "token without URL exit 2" rc_is 2
run --once "${node[@]}" --pods-file "$tmp/missing.json"
check "missing pods file exit 1" rc_is 1
check "missing pods file message" err_has "$tmp/missing.json: cannot open"
printf '{"items":[{"metadata":{"name":"a","uid":5}}]}' >"$tmp/bad.json"
run --once "${node[@]}" --pods-file "$tmp/bad.json"
check "bad pods file exit 2" rc_is 2
check "bad pods file path" err_has "$tmp/bad.json: items[0].metadata.uid: expected a string, got an integer"

# --- the server -------------------------------------------------------------------
${GF_WRAP:-} "$exp" --listen 127.0.0.1:0 "${node[@]}" --pods-file "$fx/exporter/pods-kubelet.json" \
  >"$tmp/srv.out" 2>"$tmp/srv.err" &
srv=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' "$tmp/srv.err")
  [ -n "$port" ] && break
  sleep 0.1
done
check "server listening" test -n "$port"
if [ -n "$port" ]; then
  curl -s -o "$tmp/out" -w '%{http_code} %{content_type}' "http://127.0.0.1:$port/metrics" >"$tmp/status"
  check "metrics 200" grep -q '^200 text/plain; version=0.0.4' "$tmp/status"
  check "metrics served" is gpufrac_pod_gpu_memory_used_bytes 8589934592 'pod="llm-chat-0"'
  check "healthz" bash -c "[ \"\$(curl -s http://127.0.0.1:$port/healthz)\" = ok ]"
  check "404" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/x)\" = 404 ]"
fi
kill -TERM "$srv"; wait "$srv"; echo $? >"$tmp/rc"; srv=""
check "SIGTERM exit 0" rc_is 0
check "stop logged" grep -q "SIGTERM: stopping" "$tmp/srv.err"

echo "cli_exporter: $pass passed, $fail failed"
[ "$fail" = 0 ]
