#!/usr/bin/env bash
# cli_deploy.sh - deploy/ as a user applies it: every overlay rendered with
# `kubectl kustomize` (the kubectl on PATH, and Debian's old kubectl 1.20 too
# when GF_KUBECTL_OLD names it: the Kustomize files keep to what both
# render), then every rendered object through `kubectl apply --dry-run=client
# --validate=false` and a real `kubectl apply` against the stand-in API
# server (tests/standin, which serves API discovery for this). Checked on
# the rendered objects:
#   - the namespaces' Pod Security labels: the exporter's "privileged" (it
#     needs hostPID), the controller's "restricted", nothing else in the
#     exporter's namespace;
#   - the exporter: hostPID, seccomp RuntimeDefault, no capabilities, no
#     privilege escalation, read-only root, GPU-node affinity and toleration,
#     pods from the kubelet; its ClusterRole grants nodes/pods get only (no
#     pod list anywhere); a NetworkPolicy admits only Prometheus to 9402;
#   - the controller: non-root, seccomp RuntimeDefault, its PROMETHEUS_URL and
#     policy ConfigMaps exist under the generated names it refers to;
#   - recommend-only's policy has no auto rule, auto's has one; both load in
#     `gpufrac recommend --policy`; exporter-only has no controller;
#   - without the Prometheus Operator: an overlay without its base/monitoring
#     line (what its comment says to do) renders without ServiceMonitors.
#   usage: cli_deploy.sh GPUFRAC FIXTURES_DIR
#   env: GF_SOURCE_DIR (the repository), GF_KUBE_STANDIN, GF_KUBECTL_OLD
. "$(dirname "$0")/lib_standin.sh"
set -u
bin=$1 fx=$2
src=${GF_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
standin=${GF_KUBE_STANDIN:-}
kubectl=$(command -v kubectl || true)
if [ -z "$kubectl" ]; then echo "SKIP: no kubectl (scripts/deps.sh --test installs one)"; exit 0; fi
if [ -z "$standin" ] || [ ! -x "$standin" ]; then
  echo "SKIP: kube-standin not built (GF_KUBE_STANDIN)"; exit 0
fi
command -v jq >/dev/null || { echo "FAIL: jq is needed"; exit 1; }
kubectls=("$kubectl")
[ -n "${GF_KUBECTL_OLD:-}" ] && kubectls+=("$GF_KUBECTL_OLD")

tmp=$(mktemp -d)
spid=""
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass=0 fail=0
check() { # name, condition...
  local name=$1; shift
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; fi
}

standin_start() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  rm -f "$tmp/standin.out"
  "$standin" --port 0 --fixtures "$fx/controller/cluster" >"$tmp/standin.out" 2>"$tmp/standin.err" &
  spid=$!
  wait_standin_url "$tmp/standin.out" "$tmp/standin.err"
  cat >"$tmp/kc.yaml" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: standin
    cluster: {server: "$surl"}
users:
  - name: admin
    user: {}
contexts:
  - name: test
    context: {cluster: standin, user: admin}
current-context: test
EOF
}
api() { curl -s "$surl$1"; }

# discovery as the real server serves it
standin_start
check "discovery: /api lists v1" [ "$(api /api | jq -r '.kind + " " + .versions[0]')" = "APIVersions v1" ]
check "discovery: /apis lists apps/v1" \
  jq -e '.kind == "APIGroupList" and ([.groups[].preferredVersion.groupVersion] | index("apps/v1"))' \
  <<<"$(api /apis)" >/dev/null
check "discovery: /apis/apps/v1 names Deployment" \
  jq -e '.kind == "APIResourceList" and .groupVersion == "apps/v1" and
         ([.resources[] | select(.name == "deployments" and .kind == "Deployment" and .namespaced)] | length == 1)' \
  <<<"$(api /apis/apps/v1)" >/dev/null
check "discovery: /api/v1 names namespaces as cluster-scoped" \
  jq -e '[.resources[] | select(.name == "namespaces" and (.namespaced | not))] | length == 1' \
  <<<"$(api /api/v1)" >/dev/null
check "discovery: an unknown group version is 404" \
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$surl/apis/nope.example.com/v1")" = 404 ]

# objects of a rendered List: kind/namespace/name lines
objects() { jq -r '.items[] | "\(.kind)/\(.metadata.namespace // "-")/\(.metadata.name)"' "$1"; }
obj() { # FILE KIND NAME: that object
  jq --arg k "$2" --arg n "$3" '[.items[] | select(.kind == $k and .metadata.name == $n)][0]' "$1"
}

for kc in "${kubectls[@]}"; do
  ver=$("$kc" version --client 2>/dev/null | grep -o 'v1\.[0-9]*' | head -1)
  for o in recommend-only auto exporter-only; do
    t="$o ($ver)"
    "$kc" kustomize "$src/deploy/overlays/$o" >"$tmp/$o.yaml" 2>"$tmp/render.err"
    check "$t: renders" [ $? -eq 0 ] || { cat "$tmp/render.err"; continue; }
    # every object through kubectl's client-side apply against the stand-in
    standin_start
    "$kc" --kubeconfig "$tmp/kc.yaml" apply --dry-run=client --validate=false -f "$tmp/$o.yaml" \
      >"$tmp/dry.out" 2>"$tmp/dry.err"
    check "$t: dry-run apply exits 0" [ $? -eq 0 ] || cat "$tmp/dry.err"
    n=$(grep -c '^kind:' "$tmp/$o.yaml")
    check "$t: every object created (dry run)" [ "$(grep -c 'created (dry run)$' "$tmp/dry.out")" = "$n" ]
    "$kc" --kubeconfig "$tmp/kc.yaml" apply --dry-run=client --validate=false -o json \
      -f "$tmp/$o.yaml" 2>/dev/null | jq 'if .kind == "List" then . else {items: [.]} end' >"$tmp/$o.json"
    check "$t: -o json holds every object" [ "$(jq '.items | length' "$tmp/$o.json")" = "$n" ]
    "$kc" --kubeconfig "$tmp/kc.yaml" apply --validate=false -f "$tmp/$o.yaml" >"$tmp/apply.out" 2>&1
    check "$t: apply creates every object" [ "$(grep -c ' created$' "$tmp/apply.out")" = "$n" ] ||
      cat "$tmp/apply.out"
    ds=$(api /apis/apps/v1/namespaces/gpufrac-exporter/daemonsets/gpufrac-exporter | jq -r .kind)
    check "$t: the DaemonSet is in the stand-in" [ "$ds" = DaemonSet ]
    j=$tmp/$o.json

    # namespaces and Pod Security
    check "$t: exporter namespace is Pod Security privileged" \
      [ "$(obj "$j" Namespace gpufrac-exporter | jq -r '.metadata.labels["pod-security.kubernetes.io/enforce"]')" = privileged ]
    check "$t: only the exporter's objects in the privileged namespace" \
      jq -e '[.items[] | select(.metadata.namespace == "gpufrac-exporter") | .metadata.name | select(startswith("gpufrac-exporter") | not)] == []' "$j" >/dev/null
    check "$t: every namespaced object in one of the two namespaces" \
      jq -e '[.items[] | select(.metadata.namespace != null) | .metadata.namespace | select(. != "gpufrac" and . != "gpufrac-exporter")] == []' "$j" >/dev/null
    check "$t: binding subjects name the service accounts' namespaces" \
      jq -e '[.items[] | select(.kind | endswith("Binding")) | .subjects[] |
              select(.namespace != (if (.name | startswith("gpufrac-exporter")) then "gpufrac-exporter" else "gpufrac" end))] == []' "$j" >/dev/null

    # the exporter's privileges
    d=$(obj "$j" DaemonSet gpufrac-exporter)
    check "$t: exporter hostPID" jq -e '.spec.template.spec.hostPID == true' <<<"$d" >/dev/null
    check "$t: exporter seccomp RuntimeDefault" \
      jq -e '.spec.template.spec.securityContext.seccompProfile.type == "RuntimeDefault"' <<<"$d" >/dev/null
    check "$t: exporter drops every capability, no escalation, read-only root" \
      jq -e '.spec.template.spec.containers[0].securityContext |
             .capabilities.drop == ["ALL"] and .allowPrivilegeEscalation == false and
             .readOnlyRootFilesystem == true and (.capabilities.add == null) and .privileged == false' <<<"$d" >/dev/null
    check "$t: exporter /proc read-only" \
      jq -e '.spec.template.spec.containers[0].volumeMounts | all(.readOnly == true)' <<<"$d" >/dev/null
    check "$t: exporter only on GPU nodes" \
      jq -e '[.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[].matchExpressions[].key] | index("nvidia.com/gpu.present")' <<<"$d" >/dev/null
    check "$t: exporter tolerates the GPU taint" \
      jq -e '[.spec.template.spec.tolerations[] | select(.key == "nvidia.com/gpu" and .operator == "Exists")] | length == 1' <<<"$d" >/dev/null
    check "$t: exporter reads pods from the kubelet" \
      jq -e '.spec.template.spec.containers[0].args | (index("--kubelet-url=https://$(HOST_IP):10250") != null) and (map(select(startswith("--apiserver-url"))) == [])' <<<"$d" >/dev/null
    check "$t: exporter image tagged" jq -e '.spec.template.spec.containers[0].image | test(":[0-9]")' <<<"$d" >/dev/null
    cr=$(obj "$j" ClusterRole gpufrac-exporter)
    check "$t: exporter ClusterRole: nodes/pods get, nothing else" \
      jq -e '.rules == [{"apiGroups": [""], "resources": ["nodes/pods"], "verbs": ["get"]}]' <<<"$cr" >/dev/null
    np=$(obj "$j" NetworkPolicy gpufrac-exporter)
    check "$t: NetworkPolicy: only Prometheus reaches the exporter's port" \
      jq -e '.spec.podSelector.matchLabels["app.kubernetes.io/name"] == "gpufrac-exporter" and
             .spec.policyTypes == ["Ingress"] and (.spec.ingress | length == 1) and
             .spec.ingress[0].ports == [{"port": 9402, "protocol": "TCP"}] and
             (.spec.ingress[0].from | length == 1) and
             .spec.ingress[0].from[0].podSelector.matchLabels["app.kubernetes.io/name"] == "prometheus"' <<<"$np" >/dev/null

    if [ "$o" = exporter-only ]; then
      check "$t: no controller" jq -e '[.items[] | select(.metadata.name | startswith("gpufrac-controller"))] == []' "$j" >/dev/null
      continue
    fi
    # the controller
    ccr=$(obj "$j" ClusterRole gpufrac-controller)
    check "$t: controller reads KAI's governance kinds, read-only, nothing more of their groups" \
      jq -e '[.rules[] | select(.apiGroups | any(. == "scheduling.run.ai" or . == "scheduling.k8s.io" or . == "kai.scheduler"))] ==
             [{"apiGroups": ["scheduling.run.ai"], "resources": ["queues", "podgroups"], "verbs": ["get", "list", "watch"]},
              {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": ["get", "list", "watch"]},
              {"apiGroups": ["kai.scheduler"], "resources": ["schedulingshards"], "verbs": ["get", "list", "watch"]}]' <<<"$ccr" >/dev/null
    check "$t: controller writes no KAI object" \
      jq -e '[.rules[] | select(.apiGroups | any(test("run.ai|kai.scheduler|scheduling.k8s.io"))) | .verbs[] | select(. != "get" and . != "list" and . != "watch")] == []' <<<"$ccr" >/dev/null
    dep=$(obj "$j" Deployment gpufrac-controller)
    check "$t: controller non-root, seccomp RuntimeDefault" \
      jq -e '.spec.template.spec.securityContext | .runAsNonRoot == true and .seccompProfile.type == "RuntimeDefault"' <<<"$dep" >/dev/null
    check "$t: controller namespace is Pod Security restricted" \
      [ "$(obj "$j" Namespace gpufrac | jq -r '.metadata.labels["pod-security.kubernetes.io/enforce"]')" = restricted ]
    settings=$(jq -r '.spec.template.spec.containers[0].env[] | select(.name == "PROMETHEUS_URL") | .valueFrom.configMapKeyRef.name' <<<"$dep")
    check "$t: PROMETHEUS_URL from an existing ConfigMap" \
      jq -e --arg n "$settings" '[.items[] | select(.kind == "ConfigMap" and .metadata.name == $n) | .data.PROMETHEUS_URL | startswith("http")] == [true]' "$j" >/dev/null
    check "$t: --prometheus takes PROMETHEUS_URL" \
      jq -e '.spec.template.spec.containers[0].args | index("--prometheus=$(PROMETHEUS_URL)")' <<<"$dep" >/dev/null
    pol=$(jq -r '.spec.template.spec.volumes[] | select(.name == "policy") | .configMap.name' <<<"$dep")
    jq -r --arg n "$pol" '.items[] | select(.kind == "ConfigMap" and .metadata.name == $n) | .data["policy.yaml"]' "$j" >"$tmp/policy.yaml"
    check "$t: the policy ConfigMap exists" [ -s "$tmp/policy.yaml" ]
    printf '%s\n' "timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util" \
      "1795507200,team-a,llm-chat-7d9f8b6c5d-x2lqf,server,GPU-a,2147483648,0.08" >"$tmp/usage.csv"
    "$bin" recommend -q --policy "$tmp/policy.yaml" --usage "$tmp/usage.csv" "$fx/kai-small.json" \
      >/dev/null 2>"$tmp/pol.err"
    check "$t: the policy loads in gpufrac recommend" [ $? -eq 0 ] || cat "$tmp/pol.err"
    if [ "$o" = auto ]; then
      check "$t: policy has an auto rule" grep -q '^ *mode: auto$' "$tmp/policy.yaml"
    else
      check "$t: policy has no auto rule" bash -c "! grep -q 'mode: auto' '$tmp/policy.yaml'"
    fi
  done

  # without the Prometheus Operator: the overlay without its monitoring line
  for o in recommend-only exporter-only; do
    mkdir -p "$tmp/no-sm/$o"
    rel=$(realpath --relative-to="$tmp/no-sm/$o" "$src/deploy/overlays/$o")
    grep -v 'base/monitoring' "$src/deploy/overlays/$o/kustomization.yaml" |
      sed "s|^  - \.\./\.\./|  - $rel/../../|" >"$tmp/no-sm/$o/kustomization.yaml"
    "$kc" kustomize "$tmp/no-sm/$o" >"$tmp/no-sm.yaml" 2>"$tmp/render.err"
    check "$o without monitoring ($ver): renders" [ $? -eq 0 ] || cat "$tmp/render.err"
    check "$o without monitoring ($ver): no ServiceMonitor" bash -c "! grep -q '^kind: ServiceMonitor' '$tmp/no-sm.yaml'"
    check "$o without monitoring ($ver): the DaemonSet is there" grep -q '^kind: DaemonSet' "$tmp/no-sm.yaml"
  done
done

echo "cli_deploy: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
