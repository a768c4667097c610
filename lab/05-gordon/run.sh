#!/usr/bin/env bash
# Lab step 5 (the prgcont Gordon exercise): spec.gordon.replicas pods, listed in status, kept alive.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT/lab"
KUBECTL="${KUBECTL:-kubectl}"
export PATH="$ROOT/node_modules/.bin:$PATH"
export KUSTOMATE_KUBECTL="$KUBECTL"
set -x
"$KUBECTL" apply -f demo-ns.yaml -f ../crds/gordons.operator.prgcont.cz.yaml
"$KUBECTL" wait --for=condition=Established crd/gordons.operator.prgcont.cz --timeout=60s
node "$ROOT/src/cli/main.ts" run --namespace demo --health-port 0 gordon > "${TMPDIR:-/tmp}/kustomate-lab-gordon.log" 2>&1 &
OPERATOR=$!
trap 'kill $OPERATOR 2>/dev/null || true' EXIT
"$KUBECTL" apply -f demo-gordon.yaml
"$KUBECTL" -n demo wait --for=condition=Ready gordon/gordoncluster --timeout=120s
"$KUBECTL" -n demo wait --for=jsonpath='{.status.gordon_pods.ready}'=3 gordon/gordoncluster --timeout=120s
# which pods belong to this Gordon, refreshed every 5 s
"$KUBECTL" -n demo get gordon gordoncluster -o jsonpath='{range .status.gordon_pods.pods[*]}{.name}{"\t"}{.phase}{"\n"}{end}'
# kill one: the Deployment replaces it, and the list in status catches up
VICTIM="$("$KUBECTL" -n demo get gordon gordoncluster -o jsonpath='{.status.gordon_pods.pods[0].name}')"
"$KUBECTL" -n demo delete pod "$VICTIM"
"$KUBECTL" -n demo wait --for=jsonpath='{.status.gordon_pods.ready}'=3 gordon/gordoncluster --timeout=120s
"$KUBECTL" -n demo get gordon gordoncluster -o jsonpath='{range .status.gordon_pods.pods[*]}{.name}{"\t"}{.phase}{"\n"}{end}'
# scale down through the spec
"$KUBECTL" -n demo patch gordon gordoncluster --type=merge -p '{"spec":{"gordon":{"replicas":1}}}'
"$KUBECTL" -n demo wait --for=jsonpath='{.status.gordon_pods.ready}'=1 gordon/gordoncluster --timeout=120s
"$KUBECTL" -n demo get gn,pod
"$KUBECTL" -n demo delete gordon gordoncluster --timeout=120s
"$KUBECTL" -n demo get pod
