#!/usr/bin/env bash
# demo.sh - the README's main command: install what is missing, build, and run
# gpufrac on the embedded default (no cluster needed):
#   1. `gpufrac simulate` replays a generated 50-node KAI cluster with
#      built-in inference demand for 7 days under seven GPU-sharing policies,
#      prints savings vs harm per policy, writes a self-contained HTML report,
#      and keeps the gpufrac policy's usage history in SQLite with the
#      simulated cluster as kubectl JSON;
#   2. `gpufrac recommend` reads that history and cluster back, as it would a
#      real cluster's, and prints what it would change now.
# See docs/simulator.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build -DGF_TESTS=OFF # the demo needs no test libraries
out=build/demo
mkdir -p "$out"
echo "+ build/gpufrac simulate --report $out/report.html --history $out/history.db --snapshot $out/cluster.json" >&2
build/gpufrac simulate --report "$out/report.html" --history "$out/history.db" \
  --snapshot "$out/cluster.json"
echo >&2
echo "+ build/gpufrac recommend --history $out/history.db $out/cluster.json" >&2
build/gpufrac recommend -q --history "$out/history.db" "$out/cluster.json"
echo >&2
echo "report: $out/report.html (open it in a browser); history: $out/history.db (SQLite)" >&2
