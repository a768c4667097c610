#!/usr/bin/env bash
# Lab step 8 (slides "Packaging"): the operator as an image with kubectl inside, its RBAC, the Deployment, a check.
# Works on any cluster kubectl reaches. Where the nodes only pretend to run containers (the local control plane's
# kwok nodes), the Deployment's pod is run here instead, under podman, with the same image and ServiceAccount.
# IMAGE=REGISTRY/kustomate:TAG: the copy of the image your cluster's nodes pull (push it there first).
set -euo pipefail
source "$(dirname "$0")/../common.sh"
set -x
# 1. build the image (the Dockerfile, with buildah; podman and buildah are installed from Debian's packages if missing)
(cd "$ROOT" && npm run --silent image)
podman image ls localhost/kustomate
# 2. RBAC and deploy: the CRDs, established, then the namespace, ServiceAccount, ClusterRole, bindings and Deployment
"$KUBECTL" apply -f ../crds/ && "$KUBECTL" wait --for=condition=Established -f ../crds/ && "$KUBECTL" apply -k ../kustomize/kustomate
if [ -n "${IMAGE:-}" ]; then "$KUBECTL" -n kustomate-system set image deployment/kustomate operator="$IMAGE"; fi
"$KUBECTL" -n kustomate-system rollout status deployment/kustomate --timeout=180s
# what its ServiceAccount may do: create Deployments, but not read Secrets
"$KUBECTL" auth can-i create deployments -n demo --as=system:serviceaccount:kustomate-system:kustomate
"$KUBECTL" auth can-i get secrets -n demo --as=system:serviceaccount:kustomate-system:kustomate || true
# 3. check: a Sample becomes a Deployment. kwok nodes run no container: run the Deployment's pod here.
if [ -n "$("$KUBECTL" get nodes -o jsonpath='{.items[*].metadata.annotations.kwok\.x-k8s\.io/node}')" ]; then
  node "$ROOT/lab/image/run.ts" >"${TMPDIR:-/tmp}/kustomate-lab-image.log" 2>&1 &
  POD=$!
  trap 'kill $POD 2>/dev/null || true; wait $POD 2>/dev/null || true' EXIT
fi
"$KUBECTL" apply -f demo-ns.yaml -f demo-obj.yaml
"$KUBECTL" -n demo wait --for=condition=Ready sample/obj --timeout=120s
"$KUBECTL" -n demo get sam,deploy
# the Lease says which pod leads (here: the container's host name)
"$KUBECTL" -n kustomate-system get lease
"$KUBECTL" -n demo delete sample obj --timeout=120s
# uninstall: the operator first (and the pod run here), then its RBAC and namespace; the CRDs stay (deleting one
# deletes every custom resource of its kind)
"$KUBECTL" -n kustomate-system delete deployment kustomate --timeout=120s
if [ -n "${POD:-}" ]; then kill "$POD"; wait "$POD"; fi
"$KUBECTL" delete -k ../kustomize/kustomate --ignore-not-found --timeout=120s
