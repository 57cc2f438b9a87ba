#!/usr/bin/env bash
# layers.sh - the one-way dependency direction of src/, checked on the
# includes (the lint target runs it): each folder includes only its own
# headers and those of the layers below it.
#
#   util <- model <- decide <- sim <- io <- io/kube <- cli
#   exporter uses util, model and io only.
#
# Exit 1 with each offending include (file:line) when one points upward.
set -euo pipefail
cd "$(dirname "$0")/.."
allowed() { # folder -> the include prefixes it may use
  case "$1" in
    util) echo "util" ;;
    model) echo "util model" ;;
    decide) echo "util model decide" ;;
    sim) echo "util model decide sim" ;;
    io) echo "util model decide sim io" ;;
    io/kube) echo "util model decide sim io io/kube" ;;
    exporter) echo "util model io exporter" ;;
    cli) echo "util model decide sim io io/kube cli" ;;
    *) echo "" ;;
  esac
}
bad=0
while IFS= read -r f; do
  dir=${f#src/}
  dir=${dir%/*}
  ok=$(allowed "$dir")
  if [ -z "$ok" ]; then
    echo "layers: $f: folder src/$dir is not a known layer (add it to scripts/layers.sh)" >&2
    bad=1
    continue
  fi
  while IFS=: read -r line inc; do
    # the folder of the included header: "io/kube/kube.h" -> io/kube
    to=${inc%/*}
    [ "$to" = "$inc" ] && to=""
    hit=0
    for a in $ok; do [ "$to" = "$a" ] && hit=1; done
    if [ $hit = 0 ]; then
      echo "layers: $f:$line: src/$dir may not include \"$inc\" (allowed: $ok)" >&2
      bad=1
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
           sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
done < <(find src -name '*.[ch]' | sort)
exit $bad
