#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer harnesses (clang) and run each for SECONDS
# (default 60), starting from its seed corpus under fuzz/corpus/<name>/ and the
# test fixtures. New corpus entries go to a temporary folder, never the repo.
#   scripts/fuzz.sh [SECONDS] [HARNESS]
# GF_FUZZ_NICE="nice -n 19" runs the harnesses at the lowest priority (a
# long campaign on a shared machine; docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
only=${2:-}
scripts/deps.sh --ci
CC=clang GF_BUILD_TYPE=Debug scripts/build.sh build-fuzz -DGF_FUZZ=ON -DGF_TESTS=OFF
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
status=0
for h in build-fuzz/fuzz_*; do
  [ -x "$h" ] || continue
  name=$(basename "$h"); short=${name#fuzz_}
  [ -n "$only" ] && [ "$only" != "$short" ] && [ "$only" != "$name" ] && continue
  mkdir -p "$work/$short"
  seeds=()
  [ -d "fuzz/corpus/$short" ] && seeds+=("fuzz/corpus/$short")
  echo "== $name for ${secs}s"
  # YAML inputs large enough to reach the alias expansion cap (io/yaml_alias.h)
  max_len=()
  case $short in policy|kubeconfig) max_len=(-max_len=262144) ;; esac
  if ! ${GF_FUZZ_NICE:-} "$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 "${max_len[@]}" -artifact_prefix="$work/" "$work/$short" \
       "${seeds[@]}" 2>"$work/$name.log"; then
    status=1
    tail -40 "$work/$name.log"
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
      [ -e "$a" ] && { echo "artifact $a:"; head -c 400 "$a" | od -c | head -20; }
    done
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$name.log" | tr '\n' ' '
    # coverage at the end: libFuzzer's last status line (cov: edges, ft: features)
    grep -E "^#[0-9]+" "$work/$name.log" | tail -1 | grep -oE "cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*" || true
    echo
  fi
done
exit $status
