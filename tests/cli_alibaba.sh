#!/usr/bin/env bash
# cli_alibaba.sh - `gpufrac convert-alibaba` through the real binary.
#   usage: cli_alibaba.sh GPUFRAC FIXTURES_DIR
set -u
bin=$1 fx=$2/alibaba
pass=0 fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { ${GF_WRAP:-} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
check() {
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; echo "--- stdout"; head -20 "$tmp/out"; echo "--- stderr"; head -20 "$tmp/err"; fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }

# convert, then the result is a snapshot inspect reads: 16 nodes, GPU pods pending
run convert-alibaba -q -o "$tmp/trace.json" "$fx/nodes.csv" "$fx/pods.csv"
check "convert exit 0" rc_is 0
check "kubectl List" bash -c "jq -e '.kind == \"List\" and (.items | map(select(.kind == \"Node\")) | length) == 16' '$tmp/trace.json' >/dev/null"
check "fraction annotation" bash -c "jq -e '[.items[] | select(.kind == \"Pod\") | .metadata.annotations[\"gpu-fraction\"] // empty] | length > 0' '$tmp/trace.json' >/dev/null"
run inspect -q --summary "$tmp/trace.json"
check "inspect reads it" rc_is 0
check "inspect counts nodes" out_has "16 nodes"

# standard output and '-' input
run convert-alibaba -q "$fx/nodes.csv" - <"$fx/pods.csv"
check "stdin pods" rc_is 0
check "stdout json" bash -c "jq -e '.items | length > 16' '$tmp/out' >/dev/null"
run convert-alibaba - - 
check "two stdins exit 2" rc_is 2
check "two stdins message" err_has "only one of NODES.csv and PODS.csv can be '-'"

# CPU-only tasks only on request
run convert-alibaba -q "$fx/nodes.csv" "$fx/pods.csv"
without=$(jq '[.items[] | select(.kind == "Pod")] | length' "$tmp/out")
run convert-alibaba -q -c "$fx/nodes.csv" "$fx/pods.csv"
with=$(jq '[.items[] | select(.kind == "Pod")] | length' "$tmp/out")
check "include-cpu-only adds pods" [ "$with" -gt "$without" ]

# bad input: file, line, column; exit 2; no output file left
run convert-alibaba -o "$tmp/bad.json" "$fx/nodes.csv" "$fx/bad_gpu_milli.csv"
check "bad gpu_milli exit 2" rc_is 2
check "bad gpu_milli names line and column" err_has "bad_gpu_milli.csv:3: column gpu_milli"
check "no output on bad input" [ ! -e "$tmp/bad.json" ]
run convert-alibaba "$fx/nodes.csv" "$fx/bad_truncated.csv"
check "truncated exit 2" rc_is 2
check "truncated line" err_has "bad_truncated.csv:4: 8 columns, expected 11"
run convert-alibaba "$fx/nodes.csv" "$tmp/missing.csv"
check "missing file exit 1 (I/O)" rc_is 1
check "missing file named" err_has "missing.csv"
run convert-alibaba "$fx/nodes.csv"
check "one argument exit 2" rc_is 2

# a write failure exits 1 and never removes what is not a regular file
if [ -w /dev/full ]; then
  run convert-alibaba -q -o /dev/full "$fx/nodes.csv" "$fx/pods.csv"
  check "write failure exit 1" rc_is 1
  check "write failure message" err_has "write failed"
  check "/dev/full still there" [ -c /dev/full ]
fi

echo "cli_alibaba: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
