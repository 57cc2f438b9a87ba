#!/usr/bin/env bash
# scale.sh - snapshot loading and consolidation planning on generated KAI
# clusters of growing size (8 GPUs per node: 10,000 nodes = 80,000 GPUs and
# about 200,000 pods).
#
#   bench/scale.sh [RUNS] [SIZES...]   (default 5 runs; 1000 3000 10000 30000 nodes)
#
# Each size: `gpufrac gen-snapshot --nodes N --gpus-per-node 8 --seed 1`
# writes the snapshot; then, per command, the median (min..max) wall time of
# RUNS runs and the peak RSS:
#   jq length                    baseline: parsing the file with a well-known tool
#   gpufrac inspect --summary    load + model (GPU grouping, owners, totals)
#   gpufrac consolidate          load + plan + JSON output
# and the planning alone (consolidate --timings, median of the same runs).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-5}; shift || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1000 3000 10000 30000)
build_release
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
g=build-rel/gpufrac
echo "machine: $(machine)"
echo "runs per figure: $runs"
printf "%-6s %-6s %-7s %-5s %-28s %9s %15s %8s %8s %7s\n" nodes gpus pods MiB command median_s "min..max" cpu_s RSS_MiB vs_jq
for n in "${sizes[@]}"; do
  f=$tmp/c$n.json
  $g gen-snapshot --nodes "$n" --gpus-per-node 8 --seed 1 -o "$f"
  read -r gpus pods < <(jq -r '[([.items[] | select(.kind == "Node")] | length) * 8,
                                ([.items[] | select(.kind == "Pod")] | length)] | "\(.[0]) \(.[1])"' "$f")
  mib=$(du -m "$f" | cut -f1)
  base=""
  for cmd in "jq length" "gpufrac inspect --summary" "gpufrac consolidate"; do
    case $cmd in
      "jq length") r=$(measure "$runs" jq length "$f") ;;
      "gpufrac inspect --summary") r=$(measure "$runs" $g inspect -q --summary "$f") ;;
      "gpufrac consolidate") r=$(measure "$runs" $g consolidate -q -o json "$f") ;;
    esac
    read -r med lo hi rss cpu <<<"$r"
    [ -n "$base" ] || base=$cpu
    printf "%-6s %-6s %-7s %-5s %-28s %9s %15s %8s %8s %7s\n" "$n" "$gpus" "$pods" "$mib" "$cmd" "$med" "$lo..$hi" "$cpu" "$rss" \
      "$(awk -v a="$cpu" -v b="$base" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')"
  done
  # planning alone, from the command's own clock
  for ((i = 0; i < runs; i++)); do
    $g consolidate -q -o json --timings "$f" 2>&1 >/dev/null |
      sed -n 's/.*plan \([0-9.]*\) s (cpu \([0-9.]*\) s).*/\1 \2/p'
  done | sort -n | awk -v n="$runs" -v nodes="$n" '
    function median(a, k,   i, j, t) {
      for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j > 0 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
    }
    { w[NR] = $1; c[NR] = $2 } END {
    printf "%-6s %-6s %-7s %-5s %-28s %9.3f %15s %8.3f\n", nodes, "", "", "", "  consolidation plan only",
      median(w, n), w[1] ".." w[n], median(c, n) }'
done
