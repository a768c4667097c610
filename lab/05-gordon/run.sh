#!/usr/bin/env bash
# Lab step 5 (the prgcont Gordon exercise): spec.gordon.replicas pods, listed in status, kept alive.
set -euo pipefail
source "$(dirname "$0")/../common.sh"
set -x
"$KUBECTL" apply -f demo-ns.yaml -f ../crds/gordons.operator.prgcont.cz.yaml
"$KUBECTL" wait --for=condition=Established crd/gordons.operator.prgcont.cz --timeout=60s
start_operator gordon --namespace demo gordon
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
