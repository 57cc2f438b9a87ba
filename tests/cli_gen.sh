#!/usr/bin/env bash
# cli_gen.sh - `gpufrac gen-snapshot` through the real binary: the file it
# writes loads, is reproducible, and bad arguments are refused with exit 2.
# usage: cli_gen.sh GPUFRAC FIXTURES_DIR
# GF_WRAP (e.g. valgrind ...) is put before every run of the binary.
set -u
bin=$1
pass=0 fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { ${GF_WRAP:-} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
check() { # name, condition...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; echo "--- stdout"; head -c 2000 "$tmp/out"; echo "--- stderr"; head -20 "$tmp/err"; fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }
quiet() { [ ! -s "$tmp/err" ]; }

run gen-snapshot --nodes 60 --seed 7 --fill 0.5 -o "$tmp/a.json"
check "gen exit 0" rc_is 0
check "gen quiet" quiet
check "gen writes nothing to stdout" bash -c "[ ! -s '$tmp/out' ]"
check "gen is a List" bash -c "jq -e '.kind == \"List\" and .apiVersion == \"v1\" and ([.items[] | select(.kind == \"Node\")] | length) == 60' '$tmp/a.json' >/dev/null"
check "gen has every kind" bash -c "jq -e '([.items[].kind] | unique) - [\"PodDisruptionBudget\"] == [\"Deployment\",\"Node\",\"Pod\",\"Queue\",\"ReplicaSet\",\"StatefulSet\"]' '$tmp/a.json' >/dev/null"
check "gen has KAI queues with quota under a parent" bash -c "jq -e '[.items[] | select(.kind == \"Queue\")] | (map(.metadata.name) | index(\"departments\")) != null and any(.spec.parentQueue == \"departments\" and .spec.resources.gpu.quota > 0)' '$tmp/a.json' >/dev/null"

run inspect --summary "$tmp/a.json"
check "inspect exit 0" rc_is 0
check "inspect no warnings" quiet
check "inspect cluster line" out_has "CLUSTER: 60 nodes"
check "inspect no over-commit" bash -c "! grep -q over-committed '$tmp/out'"
check "inspect pools" bash -c "grep -q 'POOL training-a100' '$tmp/out' && grep -q 'POOL inference-l4' '$tmp/out'"

# reproducible: the same seed gives the same bytes, to a file or stdout
run gen-snapshot --nodes 60 --seed 7 --fill 0.5 -o "$tmp/b.json"
check "same seed same file" cmp -s "$tmp/a.json" "$tmp/b.json"
run gen-snapshot --nodes 60 --seed 7 --fill 0.5
check "stdout exit 0" rc_is 0
check "stdout same bytes" cmp -s "$tmp/a.json" "$tmp/out"
run gen-snapshot --nodes 60 --seed 8 --fill 0.5 -o "$tmp/c.json"
check "other seed differs" bash -c "! cmp -s '$tmp/a.json' '$tmp/c.json'"
run gen-snapshot --nodes 60 --seed 7 --fill 0.5 -o -
check "-o - is stdout" cmp -s "$tmp/a.json" "$tmp/out"

run gen-snapshot
check "defaults exit 0" rc_is 0
check "defaults 100 nodes" bash -c "jq -e '[.items[] | select(.kind == \"Node\")] | length == 100' '$tmp/out' >/dev/null"
run gen-snapshot --nodes 5 -s 18446744073709551615 -f 1 -o "$tmp/short.json"
check "short options and max seed" rc_is 0

run gen-snapshot --help
check "help exit 0" rc_is 0
check "help text" out_has "usage: gpufrac gen-snapshot"

# usage errors: exit 2, a message naming the option, no file created
bad() { # name, expected message, args...
  local name=$1 msg=$2; shift 2
  rm -f "$tmp/bad.json"
  run gen-snapshot "$@" -o "$tmp/bad.json"
  check "$name exit 2" rc_is 2
  check "$name message" err_has "$msg"
  check "$name no file" bash -c "[ ! -e '$tmp/bad.json' ]"
}
bad "nodes 0" "--nodes '0': expected a whole number in 1..1000000" --nodes 0
bad "nodes too many" "--nodes '1000001'" --nodes 1000001
bad "nodes garbage" "--nodes '10x'" --nodes 10x
bad "nodes negative" "--nodes '-5'" --nodes -5
bad "nodes empty" "--nodes ''" --nodes ""
bad "nodes space" "--nodes ' 5'" --nodes " 5"
bad "nodes float" "--nodes '1.5'" --nodes 1.5
bad "nodes overflow" "--nodes '99999999999999999999999'" --nodes 99999999999999999999999
bad "seed negative" "--seed '-1'" --seed -1
bad "seed garbage" "--seed 'abc'" --seed abc
bad "seed overflow" "--seed '18446744073709551616'" --seed 18446744073709551616
bad "fill above 1" "--fill '1.5': expected a number in 0..1" --fill 1.5
bad "fill negative" "--fill '-0.1'" --fill -0.1
bad "fill garbage" "--fill '0.5x'" --fill 0.5x
bad "fill nan" "--fill 'nan'" --fill nan
bad "fill inf" "--fill 'inf'" --fill inf
bad "extra argument" "unexpected argument 'extra'" extra
run gen-snapshot --frobnicate
check "unknown option exit 2" rc_is 2
run gen-snapshot --nodes
check "missing value exit 2" rc_is 2

# runtime failures: exit 1; a device is never removed
run gen-snapshot --nodes 3 -o "$tmp/no/such/dir/x.json"
check "bad dir exit 1" rc_is 1
check "bad dir message" err_has "$tmp/no/such/dir/x.json: cannot create"
if [ -w /dev/full ]; then
  run gen-snapshot --nodes 3 -o /dev/full
  check "full disk exit 1" rc_is 1
  check "full disk message" err_has "/dev/full: write failed"
  check "/dev/full kept" test -c /dev/full
fi

echo "cli_gen: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
