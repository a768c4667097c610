#!/usr/bin/env bash
# Lab step 9 (the seeds' last task: write your own operator): kustomate new, edit the base, render, diff, run, bundle.
set -euo pipefail
source "$(dirname "$0")/../common.sh"
# The project goes into a temporary folder, removed at the end; WORK=DIR puts it in DIR/greeter and keeps it.
if [ -n "${WORK:-}" ]; then
  TEMPORARY=""
else
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/kustomate-lab-09-XXXXXX")"
  TEMPORARY="$WORK"
fi
cleanup() {
  if [ -n "${OPERATOR:-}" ]; then kill "$OPERATOR" 2>/dev/null || true; wait "$OPERATOR" 2>/dev/null || true; fi
  if [ -n "$TEMPORARY" ]; then rm -rf "$TEMPORARY"; fi
}
trap cleanup EXIT
set -x

# 1. new: a Greeting (lab.kustomate.io/v1) becomes a copy of kustomize/greeter/, applied with kubectl apply -k.
#    The project gets this checkout's kustomate (packed into vendor/), installs it, and writes its golden files.
kustomate new greeter --group lab.kustomate.io --kind Greeting --dir "$WORK/greeter"
cd "$WORK/greeter"
cat src/operator.ts

# 2. edit the base: a newer nginx for every Greeting. The golden test notices; --update rewrites its file.
sed -i 's/image: nginx:1.27/image: nginx:1.28/' kustomize/greeter/deployment.yaml
npm run --silent golden || echo "golden: exit code $? (the base changed)"
npm run --silent golden -- --update

# 3. render: what the operator would apply for the example, without a cluster.
npm run --silent render -- -f examples/greeting.yaml -n demo

# 4. diff: what applying it would change on the cluster. Nothing is there yet: everything is new (exit code 1).
"$KUBECTL" apply -f "$ROOT/lab/demo-ns.yaml" -f crds/
"$KUBECTL" wait --for=condition=Established crd/greetings.lab.kustomate.io --timeout=60s
npm run --silent diff -- -f examples/greeting.yaml -n demo || echo "diff: exit code $?"

# 5. run: the project's own kustomate runs its operator, in the background, for namespace demo.
node node_modules/kustomate/dist/cli/main.js run --health-port 0 --namespace demo ./src/operator.ts >"${TMPDIR:-/tmp}/kustomate-lab-greeter.log" 2>&1 &
OPERATOR=$!
"$KUBECTL" -n demo apply -f examples/greeting.yaml
"$KUBECTL" -n demo wait --for=condition=Ready greeting/example --timeout=120s
"$KUBECTL" -n demo get greeting,deploy,cm
# the same Greeting with 3 replicas: diff shows exactly that (exit code 1), then it is applied
sed 's/replicas: 1/replicas: 3/' examples/greeting.yaml >three.yaml
npm run --silent diff -- -f three.yaml -n demo || echo "diff: exit code $?"
"$KUBECTL" -n demo apply -f three.yaml
"$KUBECTL" -n demo wait --for=jsonpath='{.spec.replicas}'=3 deploy/example-web --timeout=120s
npm run --silent diff -- -f three.yaml -n demo && echo "diff: exit code 0, nothing to change"

# 6. bundle: an Operator Lifecycle Manager bundle, checked against the bundle format rules.
npm run --silent bundle -- --version 0.1.0 --channel alpha
find bundle -type f | sort

# clean up: the operator deletes what it applied before the Greeting goes.
"$KUBECTL" -n demo delete greeting example --timeout=120s
"$KUBECTL" -n demo get deploy,cm
"$KUBECTL" delete crd greetings.lab.kustomate.io
