#!/usr/bin/env bash
# check_report.sh - open a `gpufrac simulate --report` page in headless
# Chromium: its DOM must hold the charts (fleet, harm over time, the heat
# map with one cell per GPU and column), the per-workload table and every
# policy, the page must log nothing to the console, and its screenshot must
# not be blank.
#
#   tests/browser/check_report.sh REPORT.html [WORKDIR]
#
# Needs Debian's `chromium` (exit 77 = skipped when absent) and, for the
# pixel check, a C compiler and zlib (`zlib1g-dev`): tests/browser/
# png_nonblank.c decodes the PNG (skipped with a note when it cannot be
# built). Exit 0 pass, 1 fail, 77 skipped.
set -u
report=$1
work=${2:-$(mktemp -d)}
here=$(cd "$(dirname "$0")" && pwd)
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium not installed (Debian package: chromium)"
  exit 77
fi
mkdir -p "$work"
url="file://$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/profile"
       --no-first-run --disable-extensions)
fail=0
problem() { echo "FAIL: $*"; fail=1; }

# the DOM as the browser parsed it; the page's console messages go to the
# log (--enable-logging), where there must be none
timeout 120 "$browser" "${flags[@]}" --enable-logging=stderr --v=0 --dump-dom "$url" \
  >"$work/dom.html" 2>"$work/chromium-dom.log"
[ -s "$work/dom.html" ] || { problem "--dump-dom gave nothing"; tail -5 "$work/chromium-dom.log"; }
if grep -q ':CONSOLE' "$work/chromium-dom.log"; then
  problem "the page logged to the console: $(grep ':CONSOLE' "$work/chromium-dom.log" | head -3)"
fi
for want in '<svg id="fleet-alloc"' '<svg id="fleet-gpus"' '<svg id="top-0"' \
            '<svg id="heatmap-svg"' 'id="summary"' 'id="savings"' '<polyline' '<rect' \
            'id="harm"' '<svg id="harm-gpufrac"' 'class="marks"' 'id="workload-table"' \
            '<tr class="workload"' 'data-u="'; do
  grep -qF -- "$want" "$work/dom.html" || problem "DOM lacks $want"
done
# the heat map as parsed: one cell per GPU and column
heat=$(sed -n '/<svg id="heatmap-svg"/,/<\/svg>/p' "$work/dom.html")
rows=$(printf '%s' "$heat" | grep -o 'data-rows="[0-9]*"' | head -1 | tr -dc 0-9)
cols=$(printf '%s' "$heat" | grep -o 'data-cols="[0-9]*"' | head -1 | tr -dc 0-9)
cells=$(printf '%s' "$heat" | grep -o '<rect ' | wc -l)
[ -n "$rows" ] && [ -n "$cols" ] && [ "$cells" -eq $((rows * cols)) ] ||
  problem "heat map: $cells cells for ${rows:-?} rows x ${cols:-?} columns"
for p in one-gpu-per-container static vpa-style gpufrac oracle; do
  grep -qF -- "data-policy=\"$p\"" "$work/dom.html" || problem "DOM lacks policy $p"
done
grep -qi '<script' "$work/dom.html" && problem "DOM holds a script"

# the page as a picture
timeout 120 "$browser" "${flags[@]}" --screenshot="$work/shot.png" --window-size=1280,2000 \
  "$url" >"$work/chromium-shot.log" 2>&1
size=$(stat -c %s "$work/shot.png" 2>/dev/null || echo 0)
[ "$size" -gt 20000 ] || problem "screenshot is $size bytes (expected > 20 KB)"
cc=$(command -v cc || command -v gcc || true)
if [ -n "$cc" ] && [ "$size" -gt 0 ] &&
   "$cc" -O2 -o "$work/png_nonblank" "$here/png_nonblank.c" -lz 2>"$work/cc.log"; then
  if ! "$work/png_nonblank" "$work/shot.png" 5 12 >"$work/pixels.txt"; then
    problem "screenshot looks blank: $(cat "$work/pixels.txt")"
  else
    echo "screenshot: $(cat "$work/pixels.txt")"
  fi
else
  echo "NOTE: pixel check skipped (needs cc and zlib1g-dev): $(head -1 "$work/cc.log" 2>/dev/null)"
fi
exit $fail
