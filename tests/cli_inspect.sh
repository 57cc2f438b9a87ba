#!/usr/bin/env bash
# cli_inspect.sh - `gpufrac inspect` through the real binary: output, exit
# codes and error messages.  usage: cli_inspect.sh GPUFRAC FIXTURES_DIR
# GF_WRAP (e.g. valgrind ...) is put before every run of the binary.
set -u
bin=$1 fx=$2
pass=0 fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { ${GF_WRAP:-} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
check() { # name, condition...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; echo "--- stdout"; head -20 "$tmp/out"; echo "--- stderr"; head -20 "$tmp/err"; fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }

run inspect "$fx/kai-small.json"
check "table exit 0" rc_is 0
check "table pool line" out_has "POOL inference: 2 nodes (2 with GPUs), 6 GPUs: 2 whole, 4 shared, 0 idle"
check "table gpu line" out_has "GPU 0  shared alloc 0.75 free 0.25  group 1f0e4c52-9a6b-4f8e-b1d2-7c3e5a9d0b11  team-a/llm-chat-7d9f8b6c5d-x2lqf 0.50, team-a/embedder-5f6c7d8e9a-p0d7z 0.25"
check "table memory pod" out_has "team-b/ocr-6b7c8d9e0f-mm3rt 0.50 (11517 MiB)"
check "table cluster" out_has "CLUSTER: 4 nodes (3 with GPUs), 7 GPUs: 2 whole, 5 shared, 0 idle"
check "warning for Service" err_has "warning: $fx/kai-small.json: items[22]: kind Service is not used by gpufrac; skipped"

run inspect -o json "$fx/kai-small.json"
check "json exit 0" rc_is 0
check "json valid + totals" bash -c "jq -e '.totals.gpus == 7 and .totals.gpus_whole == 2 and .totals.pods_pending_gpu == 1' '$tmp/out' >/dev/null"
check "json gpu members" bash -c "jq -e '[.pools[] | select(.name==\"inference\") | .nodes[] | select(.name==\"gpu-l4-b\") | .gpus[0].pods[].workload.name] == [\"llm-chat\",\"reranker\"]' '$tmp/out' >/dev/null"
check "json pending pod" bash -c "jq -e '.pending_gpu_pods[0].name == \"llm-big-8c7d6e5f4a-a1b2c\" and .pending_gpu_pods[0].fraction == 0.75' '$tmp/out' >/dev/null"

run inspect --summary --pool inference -q "$fx/kai-small.json"
check "summary exit 0" rc_is 0
check "summary has no node lines" bash -c "! grep -q NODE '$tmp/out'"
check "quiet prints no warnings" bash -c "[ ! -s '$tmp/err' ]"

run inspect "$fx/kai-small-pods.json" "$fx/kai-small-nodes.json"
check "two files exit 0" rc_is 0
check "two files same totals" out_has "CLUSTER: 4 nodes (3 with GPUs), 7 GPUs: 2 whole, 5 shared, 0 idle"

cat "$fx/kai-small.json" | run inspect -s -
check "stdin" out_has "CLUSTER: 4 nodes"

# usage and input errors: exit 2 and a message naming file and place
run inspect
check "no args exit 2" rc_is 2
check "no args message" err_has "no snapshot given"
run inspect -o yaml "$fx/kai-small.json"
check "bad format exit 2" rc_is 2
run inspect --pool nosuch "$fx/kai-small.json"
check "bad pool exit 2" rc_is 2
run inspect --help
check "help exit 0" rc_is 0
check "help text" out_has "usage: gpufrac inspect"
run frobnicate
check "unknown command exit 2" rc_is 2

head -c 3000 "$fx/kai-small.json" >"$tmp/trunc.json"
run inspect "$tmp/trunc.json"
check "truncated exit 2" rc_is 2
check "truncated message" err_has "$tmp/trunc.json: line"

sed 's/"gpu-fraction": "0.25"/"gpu-fraction": "1.25"/' "$fx/kai-small.json" >"$tmp/frac.json"
run inspect "$tmp/frac.json"
check "fraction >1 exit 2" rc_is 2
check "fraction >1 message" err_has 'metadata.annotations["gpu-fraction"]: pod team-a/embedder-5f6c7d8e9a-p0d7z: gpu-fraction "1.25": must be at most 1'

# untrusted input is bounded: a NUL byte stops the read at once (an endless
# stream fails in its first 64 KiB, under a 1 GiB address-space limit that
# reading it whole would pass; not under valgrind or ASan, which reserve
# more), and GPUFRAC_MAX_INPUT caps files and streams
vlimit=1048576
if [ -n "${GF_WRAP:-}" ] || grep -qa -e __asan_init -e AddressSanitizer "$bin"; then vlimit=unlimited; fi
(ulimit -v $vlimit; ${GF_WRAP:-} "$bin" inspect /dev/zero >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc")
check "/dev/zero exit 2" rc_is 2
check "/dev/zero message" err_has "/dev/zero: not a text file: a NUL byte at offset 0"
(ulimit -v $vlimit; ${GF_WRAP:-} "$bin" inspect - </dev/zero >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc")
check "stdin zeros exit 2" rc_is 2
check "stdin zeros message" err_has "(stdin): not a text file"
GPUFRAC_MAX_INPUT=2K run inspect "$fx/kai-small.json"
check "over the cap exit 2" rc_is 2
check "over the cap message" err_has "$fx/kai-small.json: snapshot is larger than 2048 bytes, the limit (set GPUFRAC_MAX_INPUT"
(GPUFRAC_MAX_INPUT=2K ${GF_WRAP:-} "$bin" inspect - <"$fx/kai-small.json" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc")
check "stream over the cap exit 2" rc_is 2
check "stream over the cap message" err_has "(stdin): snapshot is larger than 2048 bytes"
GPUFRAC_MAX_INPUT=1M run inspect -s "$fx/kai-small.json"
check "under the cap exit 0" rc_is 0
GPUFRAC_MAX_INPUT=lots run inspect "$fx/kai-small.json"
check "bad cap exit 2" rc_is 2
check "bad cap message" err_has 'GPUFRAC_MAX_INPUT: bad size "lots"'

# control characters from names and annotations never reach the terminal raw
jq '(.items[] | select(.kind == "Pod" and .metadata.name == "llm-chat-7d9f8b6c5d-x2lqf") | .metadata.name) |= "llm-chat\u001b[31m-x2lqf\r"' \
  "$fx/kai-small.json" >"$tmp/esc.json"
run inspect "$tmp/esc.json"
check "escaped name: exit 0" rc_is 0
check "escaped name: shown escaped" out_has 'team-a/llm-chat\x1b[31m-x2lqf\x0d'
check "escaped name: no raw control byte" bash -c "! LC_ALL=C grep -q \$'[\x01-\x08\x0b-\x1f\x7f]' '$tmp/out' '$tmp/err'"
jq '(.items[] | select(.kind == "Pod" and .metadata.name == "llm-chat-7d9f8b6c5d-x2lqf") | .metadata.annotations["gpu-fraction"]) |= "0.5\u001b]0;owned\u0007\nFAKE"' \
  "$fx/kai-small.json" >"$tmp/esc2.json"
run inspect "$tmp/esc2.json"
check "escaped error: exit 2" rc_is 2
check "escaped error: shown escaped" err_has '0.5\x1b]0;owned\x07\x0aFAKE'
check "escaped error: one line, no raw control byte" bash -c "[ \$(wc -l <'$tmp/err') = 1 ] && ! LC_ALL=C grep -q \$'[\x01-\x08\x0b-\x1f\x7f]' '$tmp/err'"

run inspect /nonexistent.json
check "missing file exit 1" rc_is 1
check "missing file message" err_has "/nonexistent.json: cannot open"

echo "cli_inspect: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
