#!/usr/bin/env bash
# fairuse.sh - fair-use protection in `gpufrac simulate`: neighbours' harm
# with protection off vs act (--fair-use), median over seeds.
#
#   bench/fairuse.sh [SEEDS [DAYS]]      (default 5 seeds, 1 day)
#
# Scenario "a noisy pod joins a shared GPU": tests/fixtures/fairuse/
# cluster.json (an L4 node with two shared GPUs: chat 0.25 + embed 0.5, and
# render 0.25 + tts 0.5; a spare L4 node), driven by recorded usage written
# here: every service within its fraction (SM and memory, jittered per
# seed) except render, which from a per-seed minute in the first two hours
# keeps 0.85-0.95 of the SMs for 4 hours out of every 8 (a batch job on an
# inference share). Its GPU-mate tts wants 0.45 of a 0.5 share.
# Built-in mix: the generated 50-node cluster and builtin demand (seed =
# the run's seed): well-behaved services, where protection should find
# nothing to act on.
# Per policy (static, gpufrac) and mode: medians over seeds 1..SEEDS of the
# neighbours' slowed pod-minutes (within their fraction yet slowed),
# throttled pod-minutes (above their fraction: in the scenario, the hog's),
# OOM kills and fair-use actions. GF_BIN=path skips the Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
seeds=${1:-5}
days=${2:-1}
if [ -n "${GF_BIN:-}" ]; then bin=$GF_BIN; else build_release; bin=build-rel/gpufrac; fi
command -v jq >/dev/null || { echo "bench: jq not found" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "machine: $(machine)"
echo "seeds 1..$seeds, $days day(s) at 1m steps, policies static and gpufrac"
echo

usage_csv() { # seed minutes
  awk -v seed="$1" -v n="$2" 'BEGIN {
    srand(seed); G = 1073741824; start = 1795507200
    join = 30 + int(rand() * 90)
    print "timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util"
    for (i = 0; i < n; i++) {
      t = start + i * 60
      hog = i >= join && (i - join) % 480 < 240
      printf "%d,team-a,chat-7f9c8d6b5-x2k4p,main,GPU-a0,%.0f,%.3f\n", t, 4 * G, 0.15 + rand() * 0.08
      printf "%d,team-b,embed-6d5c4b3a2-q9r8s,main,GPU-a0,%.0f,%.3f\n", t, 8 * G, 0.30 + rand() * 0.15
      printf "%d,team-a,render-5b4a39281-m3n4b,main,GPU-a1,%.0f,%.3f\n", t, 3 * G, hog ? 0.85 + rand() * 0.1 : 0.05
      printf "%d,team-b,tts-8e7d6c5b4-z7y6x,main,GPU-a1,%.0f,%.3f\n", t, 6 * G, 0.42 + rand() * 0.06
    }
  }'
}

# run NAME SEED MODE ARGS...: one simulation's figures per policy into $tmp/rows
run() {
  local name=$1 seed=$2 mode=$3; shift 3
  "$bin" simulate -q -o json --policies static,gpufrac --days "$days" --seed "$seed" \
    --fair-use "$mode" "$@" >"$tmp/out.json"
  jq -r --arg n "$name" --arg m "$mode" '.policies[] | [$n, .name, $m,
      .harm.neighbour_slowed_minutes, .harm.throttled_minutes, .harm.ooms,
      .actions.fairuse_actions] | @tsv' "$tmp/out.json" >>"$tmp/rows"
}

: >"$tmp/rows"
minutes=$(awk -v d="$days" 'BEGIN { printf "%d", d * 1440 + 1 }')
for ((s = 1; s <= seeds; s++)); do
  usage_csv "$s" "$minutes" >"$tmp/usage.csv"
  for mode in off act; do
    run noisy-pod "$s" "$mode" --cluster tests/fixtures/fairuse/cluster.json \
      --demand "csv:$tmp/usage.csv"
    run builtin-mix "$s" "$mode" --nodes 50
  done
done

printf '%-12s %-8s %-5s %12s %12s %6s %8s\n' SCENARIO POLICY MODE NEIGHBOUR THROTTLED OOMS ACTIONS
printf '%-12s %-8s %-5s %12s %12s %6s %8s\n' "" "" "" pod-min pod-min "" ""
awk -F'\t' '
  function median(a, k,   i, j, t) {
    for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j > 0 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  { k = $1 SUBSEP $2 SUBSEP $3; if (!(k in n)) order[++nk] = k; c = ++n[k]
    nb[k, c] = $4; th[k, c] = $5; oo[k, c] = $6; ac[k, c] = $7 }
  END {
    for (o = 1; o <= nk; o++) {
      k = order[o]; split(k, p, SUBSEP)
      for (i = 1; i <= n[k]; i++) { a[i] = nb[k, i]; b[i] = th[k, i]; c2[i] = oo[k, i]; d[i] = ac[k, i] }
      printf "%-12s %-8s %-5s %12.0f %12.0f %6.0f %8.0f\n", p[1], p[2], p[3],
        median(a, n[k]), median(b, n[k]), median(c2, n[k]), median(d, n[k])
    }
  }' "$tmp/rows" | sort -s -k1,1 -k2,2
