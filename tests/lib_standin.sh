# lib_standin.sh - sourced by the CLI tests that run tests/standin's
# kube-standin: wait_standin_url OUT ERR sets $surl to the URL the stand-in
# prints as its first line of OUT, waiting up to 5 s (polled every 50 ms);
# without it the test fails with the stand-in's stderr.
wait_standin_url() {
  local out=$1 err=$2
  surl=""
  for _ in $(seq 1 100); do
    surl=$(head -1 "$out" 2>/dev/null)
    [ -n "$surl" ] && return 0
    sleep 0.05
  done
  echo "FAIL: kube-standin did not start"; cat "$err"; exit 1
}
