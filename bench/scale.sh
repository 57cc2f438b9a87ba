#!/usr/bin/env bash
# scale.sh - load, inspect and consolidation planning on generated KAI
# clusters of growing size.
#
#   bench/scale.sh [RUNS] [SIZES...]   (default 5 runs; 1000 3000 10000 30000 nodes)
#
# Each size: `gpufrac gen-snapshot --nodes N --seed 1` writes the snapshot,
# then per command the median (min..max) wall time of RUNS runs and the peak
# RSS. Baseline: `jq length` over the same file (parsing the JSON with a
# well-known tool, nothing else), so the ratio shows what gpufrac adds on top
# of reading its input.
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
printf "%-7s %-8s %-8s %-8s %-34s %10s %10s %9s %8s\n" nodes gpus pods MiB command median_s "min..max" RSS_MiB ratio
for n in "${sizes[@]}"; do
  f=$tmp/c$n.json
  $g gen-snapshot --nodes "$n" --seed 1 -o "$f"
  read -r gpus pods < <($g inspect -q -o json --summary "$f" | jq -r '"\(.totals.gpus) \(.totals.pods)"')
  mib=$(du -m "$f" | cut -f1)
  base=""
  for cmd in "jq length" "gpufrac inspect --summary" "gpufrac consolidate" "gpufrac consolidate --scorer fgd"; do
    case $cmd in
      "jq length") r=$(measure "$runs" jq length "$f") ;;
      "gpufrac inspect --summary") r=$(measure "$runs" $g inspect -q --summary "$f") ;;
      "gpufrac consolidate") r=$(measure "$runs" $g consolidate -q -o json "$f") ;;
      "gpufrac consolidate --scorer fgd") r=$(measure "$runs" $g consolidate -q -o json --scorer fgd "$f") ;;
    esac
    read -r med lo hi rss <<<"$r"
    [ -n "$base" ] || base=$med
    printf "%-7s %-8s %-8s %-8s %-34s %10s %10s %9s %8s\n" "$n" "$gpus" "$pods" "$mib" "$cmd" "$med" "$lo..$hi" "$rss" \
      "$(awk -v a="$med" -v b="$base" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')"
  done
done
