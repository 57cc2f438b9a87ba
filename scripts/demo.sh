#!/usr/bin/env bash
# demo.sh - the README's main command: install what is missing, build, and run
# gpufrac on the embedded default (no cluster needed).
# For now: `gpufrac inspect` on the bundled example snapshot of a KAI cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
echo "+ build/gpufrac inspect examples/kai-cluster.json" >&2
build/gpufrac inspect examples/kai-cluster.json
