#!/usr/bin/env bash
# Lab step 3 (slides "Demo Operator"): kustomate runs the Sample operator; a Sample becomes a Deployment.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT/lab"
KUBECTL="${KUBECTL:-kubectl}"
# Node 24 and the kustomate command come with `npm ci` in node_modules/.bin.
export PATH="$ROOT/node_modules/.bin:$PATH"
export KUSTOMATE_KUBECTL="$KUBECTL"
set -x
"$KUBECTL" apply -f demo-ns.yaml -f demo-crd.yaml
"$KUBECTL" wait --for=condition=Established crd/samples.nuvolaris.org --timeout=60s
# what the operator will apply for demo-obj.yaml, without a cluster
node "$ROOT/src/cli/main.ts" render -f demo-obj.yaml
# run the operator for namespace demo, in the background
node "$ROOT/src/cli/main.ts" run --namespace demo --health-port 0 sample > "${TMPDIR:-/tmp}/kustomate-lab-operator.log" 2>&1 &
OPERATOR=$!
trap 'kill $OPERATOR 2>/dev/null || true' EXIT
"$KUBECTL" apply -f demo-obj.yaml
"$KUBECTL" -n demo wait --for=condition=Ready sample/obj --timeout=120s
"$KUBECTL" -n demo get sam,deploy,po
# scale through the custom resource
"$KUBECTL" -n demo patch sample obj --type=merge -p '{"spec":{"count":3}}'
"$KUBECTL" -n demo wait --for=jsonpath='{.spec.replicas}'=3 deploy/obj-demo-deploy --timeout=120s
"$KUBECTL" -n demo get sam,deploy
# delete: the operator runs kubectl delete -k, then lets the Sample go
"$KUBECTL" -n demo delete sample obj --timeout=120s
"$KUBECTL" -n demo get deploy
