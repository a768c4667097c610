#!/usr/bin/env bash
# Lab step 1 (slides "Demo CRD"): a namespace, the Sample CRD, one instance, then clean up.
# Works on any cluster kubectl reaches; set KUBECTL to use another kubectl binary.
set -euo pipefail
source "$(dirname "$0")/../common.sh"
set -x
# check
"$KUBECTL" get nodes
"$KUBECTL" apply -f demo-ns.yaml
# create crd and instance
"$KUBECTL" apply -f demo-crd.yaml
"$KUBECTL" wait --for=condition=Established crd/samples.nuvolaris.org --timeout=60s
"$KUBECTL" get crd samples.nuvolaris.org
"$KUBECTL" apply -f demo-obj.yaml
"$KUBECTL" -n demo get sam
# cleanup (with no operator running there is no finalizer, so the delete is immediate)
"$KUBECTL" -n demo delete sam/obj
"$KUBECTL" -n demo get sam
