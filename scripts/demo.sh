#!/usr/bin/env bash
# demo.sh - the README's main command: install what is missing, build, and run
# gpufrac on the embedded default (no cluster needed): `gpufrac simulate`
# replays a generated 50-node KAI cluster with built-in inference demand for
# 7 days under five GPU-sharing policies, prints savings vs harm per policy and
# writes a self-contained HTML report (docs/simulator.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
report=build/simulation-report.html
echo "+ build/gpufrac simulate --report $report" >&2
build/gpufrac simulate --report "$report"
echo "report: $report (open it in a browser)" >&2
