#!/usr/bin/env bash
# Lab step 3 (slides "Demo Operator"): kustomate runs the Sample operator; a Sample becomes a Deployment.
set -euo pipefail
source "$(dirname "$0")/../common.sh"
set -x
"$KUBECTL" apply -f demo-ns.yaml -f demo-crd.yaml
"$KUBECTL" wait --for=condition=Established crd/samples.nuvolaris.org --timeout=60s
# what the operator will apply for demo-obj.yaml, without a cluster
kustomate render -f demo-obj.yaml
# run the operator for namespace demo, in the background
start_operator sample --namespace demo sample
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
