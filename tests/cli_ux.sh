#!/usr/bin/env bash
# cli_ux.sh - the command line as a kubectl user expects it:
#   - a bad flag in any command: "gpufrac CMD: unknown option '--x'" (or
#     "needs a value"), the short usage line, exit 2, not the whole help;
#   - -o: the same formats under the same flag; yaml that loads back to the
#     JSON document; csv with a header;
#   - gpufrac version (text, json, yaml); the controller's build_info metric
#     is checked in test_controller_kube;
#   - bash completion: commands, each command's long options (from its
#     --help), -o values; zsh: the script defines _gpufrac for both names;
#   - colour only on a terminal (a pseudo-terminal through script(1)), never
#     with NO_COLOR, never into a pipe; simulate's progress with an ETA on a
#     terminal only;
#   - as kubectl-gpufrac, a kubectl plugin: `kubectl gpufrac version`, and
#     the help says "kubectl gpufrac".
#   usage: cli_ux.sh GPUFRAC FIXTURES_DIR
set -u
bin=$1 fx=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
run() { ${GF_WRAP:-} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
check() { # name, condition...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL: $name"
    echo "--- stdout"; head -10 "$tmp/out"; echo "--- stderr"; head -10 "$tmp/err"
  fi
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
jq_ok() { jq -e "$1" "$tmp/out" >/dev/null; }
out_has() { grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qF -- "$1" "$tmp/err"; }
snap=$fx/kai-small.json

# a bad flag: the offending option and the short usage, in every command
for cmd in inspect recommend consolidate explain run simulate pack-eval gen-snapshot convert-alibaba; do
  run "$cmd" --no-such-flag
  check "$cmd: bad flag exit 2" rc_is 2
  check "$cmd: names the flag" err_has "gpufrac $cmd: unknown option '--no-such-flag'"
  check "$cmd: short usage" err_has "usage: gpufrac $cmd"
  check "$cmd: points to --help" err_has "See 'gpufrac $cmd --help'."
  check "$cmd: not the whole help" [ "$(wc -l <"$tmp/err")" -le 4 ]
done
run inspect -o
check "missing value: said" err_has "option '-o' needs a value"
run inspect -Z
check "unknown short flag: said" err_has "unknown option '-Z'"
run nope
check "unknown command: exit 2" rc_is 2
check "unknown command: said" err_has "unknown command 'nope'"

# -o: one flag, the same formats
run inspect -q -o yaml "$snap"
check "inspect -o yaml: exit 0" rc_is 0
cp "$tmp/out" "$tmp/inspect.yaml"
run inspect -q -o json "$snap"
cp "$tmp/out" "$tmp/inspect.json"
if command -v python3 >/dev/null && python3 -c 'import yaml' 2>/dev/null; then
  check "yaml loads back to the JSON" python3 -c '
import json, sys, yaml
a = yaml.safe_load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
sys.exit(0 if a == b else 1)' "$tmp/inspect.yaml" "$tmp/inspect.json"
else
  echo "SKIP: yaml round trip (python3-yaml not installed)"
fi
check "yaml quotes strings that read as other types" grep -q 'group: "5ea03b46' "$tmp/inspect.yaml"
run inspect -q -o csv "$snap"
check "inspect -o csv: header" bash -c "head -1 '$tmp/out' | grep -q '^pool,node,gpu_product,gpu_memory_mib,gpu,state,allocated_fraction,free_fraction,group,pods$'"
check "inspect -o csv: a row per GPU" [ "$(($(wc -l <"$tmp/out") - 1))" = "$(jq '[.pools[].nodes[].gpus[]] | length' "$tmp/inspect.json")" ]
printf 'timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util\n1795507200,team-a,llm-chat-7d9f8b6c5d-x2lqf,server,GPU-a,2147483648,0.08\n' >"$tmp/u.csv"
run recommend -q -o csv -u "$tmp/u.csv" "$snap"
check "recommend -o csv: header" bash -c "head -1 '$tmp/out' | grep -q '^namespace,kind,name,unit,current,recommended,action,'"
run recommend -q -o yaml -u "$tmp/u.csv" "$snap"
check "recommend -o yaml" out_has "recommendations:"
run consolidate -q -o yaml "$snap"
check "consolidate -o yaml" out_has "scorer: binpack"
run consolidate -q --move-non-preemptible always -o csv "$fx"/controller/cluster/*.json
check "consolidate -o csv: a line per move" bash -c "[ \"\$(cat '$tmp/out')\" = \"\$(printf 'pool,drain_node,namespace,pod,to_node,to_gpus,fraction\ninference,gpu-l4-b,team-x,legacy-6b7c8d9e0f-mm3rt,gpu-l4-a,1,0.5000')\" ]"
run explain -q -o csv "$fx/fairuse/cluster.json" -u "$fx/fairuse/usage.csv"
check "explain -o csv: header" bash -c "head -1 '$tmp/out' | grep -qx 'node,gpu,kind,severity,namespace,pod,observed,allowed,amount,response,signal'"
check "explain -o csv: the overrun" grep -q '^gpu-a,0,memory-overrun,critical,team-a,chat-7f9c8d6b5-x2k4p,15032385536,' "$tmp/out"
run simulate -q --nodes 3 --days 0.02 --policies static -o yaml
check "simulate -o yaml" out_has "simulation:"
run simulate -q --nodes 3 --days 0.02 --policies static,oracle -o csv
check "simulate -o csv: a line a policy" bash -c "head -1 '$tmp/out' | grep -q '^policy,gpu_hours_reserved,' && [ \"\$(cut -d, -f1 '$tmp/out' | tail -n +2 | tr '\n' ' ')\" = 'static oracle ' ]"
run pack-eval -q --seeds 2 -o csv "$snap"
check "pack-eval -o csv: header and a line a scorer" bash -c "head -1 '$tmp/out' | grep -q '^scorer,alloc_ratio_at_pct,' && [ \$(wc -l <'$tmp/out') = 5 ]"
run pack-eval -q --seeds 2 --scorers fgd -o json "$snap"
check "pack-eval -o json" jq_ok '.scorers[0].scorer == "fgd" and (.scorers[0].alloc_ratio_end_pct.median > 0)'
run inspect -o xml "$snap"
check "bad format: the choices" err_has "use table, json, yaml, csv"

# version
run version
check "version: text" bash -c "head -1 '$tmp/out' | grep -qE '^gpufrac [0-9]+\.[0-9]+\.[0-9]+$'"
check "version: libraries" out_has "libraries: jansson"
run version -o json
check "version -o json" jq_ok '.version | test("^[0-9]+\\.[0-9]+\\.[0-9]+$")'
run version -o yaml
check "version -o yaml" out_has 'version: "'
run --version
check "--version" out_has "gpufrac "

# bash completion
run completion bash
check "completion bash: exit 0" rc_is 0
cp "$tmp/out" "$tmp/comp.bash"
mkdir -p "$tmp/bin"
ln -s "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" "$tmp/bin/gpufrac"
complete_words() { # WORD...: the completions of the last one
  PATH="$tmp/bin:$PATH" bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _gpufrac; printf "%s\n" "${COMPREPLY[@]}"' _ "$tmp/comp.bash" "$@"
}
check "bash: commands" bash -c "$(declare -f complete_words); tmp='$tmp'; complete_words gpufrac rec | grep -qx recommend"
check "bash: a command's options" bash -c "$(declare -f complete_words); tmp='$tmp'; complete_words gpufrac recommend --prom | grep -qx -- --prometheus-bearer-token-file"
check "bash: cluster options" bash -c "$(declare -f complete_words); tmp='$tmp'; complete_words gpufrac inspect --kube | grep -qx -- --kubeconfig"
check "bash: -o values" bash -c "$(declare -f complete_words); tmp='$tmp'; complete_words gpufrac inspect -o y | grep -qx yaml"
run completion fish
check "completion fish: exit 2" rc_is 2
run completion zsh
check "completion zsh: exit 0" rc_is 0
cp "$tmp/out" "$tmp/comp.zsh"
if command -v zsh >/dev/null; then
  check "zsh: syntax" zsh -n "$tmp/comp.zsh"
  check "zsh: _gpufrac for gpufrac and kubectl-gpufrac" bash -c "
    HOME='$tmp' zsh -f -c 'autoload -U compinit; compinit -u -d $tmp/zcomp; source $tmp/comp.zsh;
      print \"\${_comps[gpufrac]} \${_comps[kubectl-gpufrac]}\"' | grep -qx '_gpufrac _gpufrac'"
else
  echo "SKIP: zsh not installed (scripts/deps.sh --test installs it)"
fi

# colour: a terminal only, never with NO_COLOR
printf 'timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util\n' >"$tmp/none.csv"
esc=$(printf '\033[')
tty_run() { # ENV... -- ARGS: gpufrac on a pseudo-terminal, its output in $tmp/tty
  script -qec "$(printf '%q ' env "$@")" /dev/null >"$tmp/tty" 2>&1 </dev/null
}
if command -v script >/dev/null; then
  tty_run TERM=xterm "$bin" recommend -q -u "$tmp/none.csv" "$snap"
  check "colour on a terminal" grep -qF "$esc" "$tmp/tty"
  tty_run TERM=xterm NO_COLOR=1 "$bin" recommend -q -u "$tmp/none.csv" "$snap"
  check "no colour with NO_COLOR" bash -c "! grep -qF '$esc' '$tmp/tty'"
  tty_run "$bin" simulate --nodes 20 --days 2 --policies static
  check "simulate: progress with ETA on a terminal" grep -q "ETA [0-9]* s" "$tmp/tty"
  tty_run "$bin" pack-eval --seeds 3 "$snap"
  check "pack-eval: progress with ETA on a terminal" grep -q "pack-eval: [0-9]*/12 runs, ETA" "$tmp/tty"
else
  echo "SKIP: colour and progress on a terminal (no script(1))"
fi
"$bin" simulate --nodes 20 --days 0.2 --policies static >/dev/null 2>"$tmp/err"
check "simulate: no progress bar into a file" bash -c "! grep -q 'ETA' '$tmp/err'"
TERM=xterm "$bin" recommend -q -u "$tmp/none.csv" "$snap" >"$tmp/pipe" 2>&1
check "no colour into a pipe" bash -c "! grep -qF '$esc' '$tmp/pipe'"

# a kubectl plugin
ln -s "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" "$tmp/bin/kubectl-gpufrac"
"$tmp/bin/kubectl-gpufrac" --help >"$tmp/out" 2>&1
check "plugin: help says kubectl gpufrac" out_has "usage: kubectl gpufrac COMMAND"
"$bin" --help >"$tmp/out" 2>&1
check "help names the plugin" out_has "Installed as kubectl-gpufrac on the PATH"
if command -v kubectl >/dev/null; then
  PATH="$tmp/bin:$PATH" kubectl gpufrac version >"$tmp/out" 2>&1
  check "kubectl gpufrac version" out_has "gpufrac "
  PATH="$tmp/bin:$PATH" kubectl plugin list >"$tmp/out" 2>&1
  check "kubectl plugin list finds it" out_has "kubectl-gpufrac"
else
  echo "SKIP: kubectl not installed"
fi

echo "cli_ux: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
