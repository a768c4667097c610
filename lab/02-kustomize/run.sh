#!/usr/bin/env bash
# Lab step 2 (slides "Demo Kustomize"): a plain Deployment, then the same through kustomize with a patch.
set -euo pipefail
source "$(dirname "$0")/../common.sh"
DEPLOY_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kustomate-lab-deploy-XXXXXX")"
trap 'rm -rf "$DEPLOY_DIR"' EXIT
set -x
"$KUBECTL" apply -f demo-ns.yaml
cat demo-deployment.yaml
"$KUBECTL" apply -f demo-deployment.yaml
"$KUBECTL" -n demo rollout status deploy/demo-deploy --timeout=90s
"$KUBECTL" -n demo get deploy,po
"$KUBECTL" -n demo delete deploy demo-deploy
# kustomize: the same Deployment, with patch.yaml setting the replicas
cat kustomization.yaml patch.yaml
cp demo-deployment.yaml kustomization.yaml patch.yaml "$DEPLOY_DIR"
"$KUBECTL" kustomize "$DEPLOY_DIR"
"$KUBECTL" apply -k "$DEPLOY_DIR"
"$KUBECTL" -n demo rollout status deploy/demo-deploy --timeout=90s
"$KUBECTL" -n demo get deploy,po
"$KUBECTL" delete -k "$DEPLOY_DIR"
"$KUBECTL" -n demo get deploy,po
