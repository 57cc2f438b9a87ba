#!/usr/bin/env bash
# cli_report.sh - the `gpufrac simulate --report` page in a real browser
# (tests/browser/check_report.sh: headless Chromium's DOM and screenshot).
# Skips, passing, when Debian's chromium is not installed.
#   usage: cli_report.sh GPUFRAC FIXTURES_DIR
set -u
bin=$1 fx=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  echo "SKIP: chromium not installed (Debian package chromium; scripts/deps.sh --test)"
  exit 0
fi
if ! ${GF_WRAP:-} "$bin" simulate --nodes 12 --days 1 -q --report "$tmp/report.html" \
     >"$tmp/out" 2>"$tmp/err"; then
  echo "FAIL: simulate --report"; cat "$tmp/err"; exit 1
fi
bash "$fx/../browser/check_report.sh" "$tmp/report.html" "$tmp/work"
rc=$?
if [ $rc -eq 77 ]; then exit 0; fi
[ $rc -eq 0 ] && echo "cli_report: pass"
exit $rc
