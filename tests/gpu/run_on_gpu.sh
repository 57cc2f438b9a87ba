#!/usr/bin/env bash
# run_on_gpu.sh - gpufrac-exporter against the real NVML of a GPU machine,
# for comparison with nvidia-smi. Not part of ctest (it needs a GPU).
#
#   tests/gpu/run_on_gpu.sh DIR [SECONDS]
#
# DIR holds a prebuilt gpufrac-exporter and the shared libraries it needs
# that the machine may lack (libmicrohttpd, libjansson, libcurl...); it is
# put on LD_LIBRARY_PATH. The script compiles tests/gpu/cuda_burn.c (cc,
# -ldl; no CUDA toolkit needed; DIR/cuda_burn is used instead when present),
# starts two loads on GPU 0 for SECONDS
# (default 45): A = 2048 MiB at full duty, B = 512 MiB busy 30 % of the
# time, and while they run:
#   1. `gpufrac-exporter --once --proc-root /proc --pods-file <a list that
#      maps nothing>` three times: the loads are host processes, so they
#      appear as unattributed="host" (summed per GPU);
#   2. the same with a synthetic proc root in which A's and B's cgroup files
#      name two pods (bench-a with gpu-memory 4096, bench-b with gpu-fraction
#      0.25) and a matching pod list: per-process memory and SM, allocation
#      ratios, through the whole attribution path;
#   3. the exporter as a server (--min-interval 0), scraped four times 3 s
#      apart: later scrapes read only samples newer than the previous one;
#   4. nvidia-smi (full, --query-gpu, --query-compute-apps, pmon) beside
#      each scrape.
# Everything goes to $OUT (the device tool's output folder; ./gpu-out when
# unset): one file per step and SUMMARY.txt, which lines up the exporter's
# figures with nvidia-smi's. Every command has a timeout; the loads and the
# server are stopped on every exit path.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${1:-}
secs=${2:-45}
if [ -z "$dir" ] || [ ! -x "$dir/gpufrac-exporter" ]; then
  echo "usage: $0 DIR [SECONDS]   (DIR/gpufrac-exporter must exist)" >&2
  exit 2
fi
dir=$(cd "$dir" && pwd)
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exp="$dir/gpufrac-exporter"
work=$(mktemp -d)
pids=()
log() { echo "run_on_gpu: $*" | tee -a "$out/SUMMARY.txt"; }
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 1
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
: >"$out/SUMMARY.txt"
T() { timeout "$@"; } # every external command is bounded

# --- the machine ----------------------------------------------------------------
log "machine: $(uname -r), $(nproc) CPUs"
T 30 nvidia-smi >"$out/nvidia-smi-before.txt" 2>&1 || log "nvidia-smi failed (see nvidia-smi-before.txt)"
T 30 nvidia-smi --query-gpu=index,uuid,name,driver_version,memory.total,memory.used,utilization.gpu,mig.mode.current \
  --format=csv >"$out/gpus.csv" 2>&1
cat "$out/gpus.csv" >>"$out/SUMMARY.txt"
T 20 "$exp" --version >>"$out/SUMMARY.txt" 2>&1 || { log "the exporter does not run (libraries? see below)"; ldd "$exp" >>"$out/SUMMARY.txt" 2>&1; exit 1; }

# --- the loads -------------------------------------------------------------------
if [ -x "$dir/cuda_burn" ]; then # prebuilt beside the exporter (machines without cc)
  cp "$dir/cuda_burn" "$work/cuda_burn"
else
  T 120 cc -O2 -o "$work/cuda_burn" "$repo/tests/gpu/cuda_burn.c" -ldl 2>"$out/cc.log" ||
    { log "cannot compile cuda_burn (see cc.log; or put a prebuilt one in DIR)"; exit 1; }
fi
"$work/cuda_burn" 2048 "$secs" 100 >"$out/burn-a.log" 2>&1 &
pids+=($!); pid_a=$!
"$work/cuda_burn" 512 "$secs" 30 >"$out/burn-b.log" 2>&1 &
pids+=($!); pid_b=$!
for _ in $(seq 1 120); do
  grep -q ' start ' "$out/burn-a.log" && grep -q ' start ' "$out/burn-b.log" && break
  kill -0 "$pid_a" 2>/dev/null && kill -0 "$pid_b" 2>/dev/null || break
  sleep 0.5
done
if ! grep -q ' start ' "$out/burn-a.log" || ! grep -q ' start ' "$out/burn-b.log"; then
  log "the loads did not start:"; cat "$out/burn-a.log" "$out/burn-b.log" >>"$out/SUMMARY.txt"; exit 1
fi
log "load A: pid $pid_a, 2048 MiB, 100 % duty; load B: pid $pid_b, 512 MiB, 30 % duty"
sleep 3 # let the driver gather utilisation samples

smi_now() { # TAG: nvidia-smi views at this moment
  T 20 nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader,nounits \
    >"$out/apps-$1.csv" 2>&1
  T 20 nvidia-smi --query-gpu=index,memory.used,utilization.gpu --format=csv,noheader,nounits \
    >"$out/gpu-$1.csv" 2>&1
  T 20 nvidia-smi pmon -c 1 -s um >"$out/pmon-$1.txt" 2>&1
}

# --- 1: real /proc, a pod list that maps nothing ------------------------------------
for i in 1 2 3; do
  smi_now "once-$i"
  T 30 "$exp" --once --proc-root /proc --pods-file "$repo/tests/fixtures/exporter/pods-empty.json" \
    >"$out/once-$i.prom" 2>"$out/once-$i.err"
  echo "exit $?" >>"$out/once-$i.err"
  sleep 2
done

# --- 2: a synthetic proc root that puts A and B in pods ------------------------------
uid_a=aaaaaaaa-0000-4000-8000-00000000000a uid_b=bbbbbbbb-0000-4000-8000-00000000000b
cid_a=$(printf 'a%.0s' $(seq 64)) cid_b=$(printf 'b%.0s' $(seq 64))
for x in a b; do
  if [ "$x" = a ]; then p=$pid_a uid=$uid_a cid=$cid_a; else p=$pid_b uid=$uid_b cid=$cid_b; fi
  mkdir -p "$work/proc/$p"
  cp "/proc/$p/stat" "$work/proc/$p/stat"
  echo "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid//-/_}.slice/cri-containerd-$cid.scope" \
    >"$work/proc/$p/cgroup"
done
cat >"$work/pods.json" <<EOF
{"kind":"PodList","apiVersion":"v1","items":[
 {"metadata":{"name":"bench-a","namespace":"gpu-check","uid":"$uid_a","annotations":{"gpu-memory":"4096"}},
  "spec":{"containers":[{"name":"burn"}]},"status":{"phase":"Running","containerStatuses":[{"name":"burn","containerID":"containerd://$cid_a"}]}},
 {"metadata":{"name":"bench-b","namespace":"gpu-check","uid":"$uid_b","annotations":{"gpu-fraction":"0.25"}},
  "spec":{"containers":[{"name":"burn"}]},"status":{"phase":"Running","containerStatuses":[{"name":"burn","containerID":"containerd://$cid_b"}]}}]}
EOF
for i in 1 2 3; do
  smi_now "pods-$i"
  T 30 "$exp" --once --proc-root "$work/proc" --pods-file "$work/pods.json" \
    >"$out/pods-$i.prom" 2>"$out/pods-$i.err"
  echo "exit $?" >>"$out/pods-$i.err"
  sleep 2
done

# --- 3: the server, scraped repeatedly (samples since the previous scrape) -----------
"$exp" --listen 127.0.0.1:0 --min-interval 0 --proc-root "$work/proc" --pods-file "$work/pods.json" \
  2>"$out/server.err" &
pids+=($!)
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' "$out/server.err")
  [ -n "$port" ] && break
  sleep 0.1
done
http_get() { # PATH -> body (bash /dev/tcp: no curl needed)
  T 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf 'GET $1 HTTP/1.0\r\nHost: x\r\n\r\n' >&3; sed '1,/^\r\$/d' <&3"
}
if [ -n "$port" ]; then
  for i in 1 2 3 4; do
    smi_now "server-$i"
    http_get /metrics >"$out/server-$i.prom"
    sleep 3
  done
else
  log "the server did not start (see server.err)"
fi

# --- after the loads stop -----------------------------------------------------------
wait "$pid_a" "$pid_b" 2>/dev/null
T 30 "$exp" --once --proc-root /proc --pods-file "$repo/tests/fixtures/exporter/pods-empty.json" \
  >"$out/after.prom" 2>"$out/after.err"
T 30 nvidia-smi >"$out/nvidia-smi-after.txt" 2>&1

# --- summary ------------------------------------------------------------------------
metric() { # FILE METRIC LABEL-SUBSTRING -> values, one per line
  grep -E "^$2(\{| )" "$1" 2>/dev/null | grep -F -- "$3" | awk '{ print $NF }'
}
mib() { awk '{ printf "%.0f MiB\n", $1 / 1048576 }'; }
{
  echo
  echo "== 1: real /proc (loads are host processes)"
  for i in 1 2 3; do
    echo "-- scrape $i: exit $(tail -1 "$out/once-$i.err" | awk '{print $2}')"
    echo "   exporter GPU 0 memory used: $(metric "$out/once-$i.prom" gpufrac_gpu_memory_used_bytes 'gpu_index="0"' | mib)"
    echo "   exporter GPU 0 SM:          $(metric "$out/once-$i.prom" gpufrac_gpu_sm_utilization_ratio 'gpu_index="0"')"
    echo "   exporter host processes:    memory $(metric "$out/once-$i.prom" gpufrac_pod_gpu_memory_used_bytes 'unattributed="host"' | mib | tr '\n' ' ') SM $(metric "$out/once-$i.prom" gpufrac_pod_gpu_sm_utilization_ratio 'unattributed="host"' | tr '\n' ' ')"
    echo "   nvidia-smi GPU (index, MiB used, util %): $(tr '\n' ';' <"$out/gpu-once-$i.csv")"
    echo "   nvidia-smi apps (pid, gpu, MiB):          $(tr '\n' ';' <"$out/apps-once-$i.csv")"
    echo "   errors: $(grep -E '^gpufrac_exporter_nvml_errors_total' "$out/once-$i.prom" | awk '$NF != 0' | tr '\n' ' ')"
  done
  echo
  echo "== 2: synthetic pods (A = gpu-check/bench-a pid $pid_a, B = gpu-check/bench-b pid $pid_b)"
  for i in 1 2 3; do
    echo "-- scrape $i"
    for x in a b; do
      f="$out/pods-$i.prom" sel="pod=\"bench-$x\""
      echo "   bench-$x: memory $(metric "$f" gpufrac_pod_gpu_memory_used_bytes "$sel" | mib | tr '\n' ' ')SM $(metric "$f" gpufrac_pod_gpu_sm_utilization_ratio "$sel" | tr '\n' ' ')alloc fraction $(metric "$f" gpufrac_pod_gpu_allocated_fraction "$sel" | tr '\n' ' ')memory ratio $(metric "$f" gpufrac_pod_gpu_memory_used_ratio "$sel" | tr '\n' ' ')SM ratio $(metric "$f" gpufrac_pod_gpu_sm_used_ratio "$sel" | tr '\n' ' ')"
    done
    echo "   nvidia-smi apps: $(tr '\n' ';' <"$out/apps-pods-$i.csv")"
    echo "   nvidia-smi pmon (gpu pid type sm mem ...):"
    grep -E "^ +[0-9]" "$out/pmon-pods-$i.txt" | sed 's/^/      /'
  done
  echo
  echo "== 3: server scrapes 3 s apart (SM from samples newer than the previous scrape)"
  for i in 1 2 3 4; do
    f="$out/server-$i.prom"
    [ -s "$f" ] || { echo "-- scrape $i: no answer"; continue; }
    echo "-- scrape $i: bench-a SM $(metric "$f" gpufrac_pod_gpu_sm_utilization_ratio 'pod="bench-a"' | tr '\n' ' ')bench-b SM $(metric "$f" gpufrac_pod_gpu_sm_utilization_ratio 'pod="bench-b"' | tr '\n' ' ')scrape $(metric "$f" gpufrac_exporter_scrape_duration_seconds '') s"
    echo "   nvidia-smi pmon: $(grep -E "^ +[0-9]" "$out/pmon-server-$i.txt" | tr -s ' ' | tr '\n' ';')"
  done
  echo
  echo "== after the loads: host memory $(metric "$out/after.prom" gpufrac_pod_gpu_memory_used_bytes 'unattributed="host"' | mib | tr '\n' ' ')(expected none)"
  echo "== exporter logs (first lines)"
  head -5 "$out/once-1.err" "$out/pods-1.err" "$out/server.err" 2>/dev/null
} >>"$out/SUMMARY.txt"
cat "$out/SUMMARY.txt"
