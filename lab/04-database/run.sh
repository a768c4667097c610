#!/usr/bin/env bash
# Lab step 4 (the kopf Database exercise): a Database becomes a Pod and a NodePort Service, mongo then mysql.
set -euo pipefail
source "$(dirname "$0")/../common.sh"
set -x
"$KUBECTL" apply -f demo-ns.yaml -f ../crds/databases.zalando.org.yaml
"$KUBECTL" wait --for=condition=Established crd/databases.zalando.org --timeout=60s
kustomate render -f demo-database.yaml
start_operator database --namespace demo database
"$KUBECTL" apply -f demo-database.yaml
"$KUBECTL" -n demo wait --for=condition=Ready database/mongo-db --timeout=120s
"$KUBECTL" -n demo get db,pod,svc
# the seed's message, kubectl's output and the NodePort
"$KUBECTL" -n demo get database mongo-db -o jsonpath='{.status.database}{"\n"}'
# switch to mysql: the mongo Pod is pruned, a mysql Pod reads its root password from a generated Secret
"$KUBECTL" -n demo patch database mongo-db --type=merge -p '{"spec":{"type":"mysql"}}'
"$KUBECTL" -n demo wait --for=create pod/mongo-db-mysql --timeout=120s
"$KUBECTL" -n demo wait --for=jsonpath='{.status.phase}'=Running pod/mongo-db-mysql --timeout=120s
"$KUBECTL" -n demo wait --for=delete pod/mongo-db-mongo --timeout=120s
"$KUBECTL" -n demo get db,pod,svc,secret
"$KUBECTL" -n demo delete database mongo-db --timeout=120s
"$KUBECTL" -n demo get pod,svc
