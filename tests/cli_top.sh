#!/usr/bin/env bash
# cli_top.sh - `gpufrac top`: one frame with --once (each shared GPU, its
# pods, allocation against use, OVER for a pod above its memory allocation,
# "no data" for a pod without samples), and the live view in a tmux pane:
# it draws, re-reads usage every --interval (a new sample shows up), and
# answers the keys s (sort), f (findings only) and q (quit). Every wait has
# a deadline; nothing depends on how fast the machine is.
#   usage: cli_top.sh GPUFRAC FIXTURES_DIR
set -u
bin=$1 fx=$2
tmp=$(mktemp -d)
session=gf-top-$$
cleanup() { tmux kill-session -t "$session" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
check() { # name, condition...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL: $name"; echo "--- screen"; cat "$tmp/screen" 2>/dev/null
    echo "--- stdout"; head -10 "$tmp/out" 2>/dev/null
  fi
}
cluster=("$fx"/controller/cluster/*.json)
csv=$tmp/usage.csv
G=1073741824
printf '%s\n' "timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util" \
  "1795507200,team-a,chat-7d9f8b6c5d-x2lqf,server,GPU-a,$((13 * G)),0.30" \
  "1795507200,team-a,embed-5f6c7d8e9a-p0d7z,embed,GPU-a,$((2 * G)),0.05" >"$csv"

"$bin" top --once -u "$csv" "${cluster[@]}" >"$tmp/out" 2>&1
check "once: exit 0" [ $? -eq 0 ]
check "once: header" grep -q '^gpufrac top .* 2 shared GPUs, 1 pods over their memory' "$tmp/out"
check "once: chat over its allocation" grep -qE 'team-a/chat-7d9f8b6c5d-x2lqf +0\.50 +13\.0 GiB 116% +30%  OVER$' "$tmp/out"
check "once: embed within" grep -qE 'team-a/embed-5f6c7d8e9a-p0d7z +0\.50 +2\.0 GiB +18% +5%$' "$tmp/out"
check "once: legacy has no data" grep -qE 'team-x/legacy-6b7c8d9e0f-mm3rt +0\.50 +no data' "$tmp/out"
check "once: no escape codes" bash -c "! grep -q $'\033' '$tmp/out'"
printf '%s\n' "timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util" \
  "1795507200,team-a,chat-7d9f8b6c5d-x2lqf,server,GPU-a,$((20 * G)),0.30" \
  "1795507200,team-a,embed-5f6c7d8e9a-p0d7z,embed,GPU-a,$((2 * G)),0.05" >"$tmp/full.csv"
"$bin" top --once -u "$tmp/full.csv" "${cluster[@]}" >"$tmp/out" 2>&1
check "once: a full device" grep -qE '^gpu-l4-a +0 +1\.00 +22\.0/22\.5 GiB +35%  FULL$' "$tmp/out"
check "once: 1 GPU full in the header" grep -q ', 1 GPUs full' "$tmp/out"
"$bin" top --once "${cluster[@]}" >"$tmp/out" 2>&1
check "snapshot without usage: exit 2" [ $? -eq 2 ]

if ! command -v tmux >/dev/null; then
  echo "SKIP: tmux not installed (scripts/deps.sh --test installs it)"
  echo "cli_top: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit
fi
screen() { tmux capture-pane -p -t "$session" >"$tmp/screen" 2>/dev/null; }
# wait_screen SECONDS PATTERN: until the pane shows PATTERN (grep -E)
wait_screen() {
  local n=$(( $1 * 10 ))
  for _ in $(seq 1 "$n"); do screen; grep -qE -- "$2" "$tmp/screen" && return 0; sleep 0.1; done
  return 1
}
tmux new-session -d -s "$session" -x 160 -y 40 \
  "$(printf '%q ' "$bin" top --interval 0.5 -u "$csv" "${cluster[@]}")"
check "live: draws" wait_screen 20 '^gpufrac top .*sort: node'
check "live: keys shown" wait_screen 5 'keys: s sort, f findings only, q quit'
tmux send-keys -t "$session" s
check "live: s sorts by use" wait_screen 10 'sort: used'
printf '%s\n' "1795507260,team-x,legacy-6b7c8d9e0f-mm3rt,c,GPU-b,$((3 * G)),0.10" >>"$csv"
check "live: a new sample shows at the next refresh" wait_screen 20 'team-x/legacy-6b7c8d9e0f-mm3rt +0\.50 +3\.0 GiB'
tmux send-keys -t "$session" f
check "live: f keeps GPUs with findings" wait_screen 10 '\[findings only\]'
check "live: legacy's GPU gone" bash -c "! grep -q 'team-x/legacy' '$tmp/screen'"
tmux send-keys -t "$session" q
gone=1
for _ in $(seq 1 100); do tmux has-session -t "$session" 2>/dev/null || { gone=0; break; }; sleep 0.1; done
check "live: q quits" [ "$gone" = 0 ]

echo "cli_top: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
