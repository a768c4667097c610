#!/usr/bin/env bash
# Lab step 6 (the otus MySQL operator): the CRD and its validation, the seed's cr.yml, volumes, a backup before
# delete, a restore on re-create, and a password change.
set -euo pipefail
source "$(dirname "$0")/../common.sh"
set -x
"$KUBECTL" apply -f demo-ns.yaml -f ../crds/mysqls.otus.homework.yaml
"$KUBECTL" wait --for=condition=Established crd/mysqls.otus.homework --timeout=60s
# the seed's validation step: an unknown field is refused by the API server
if "$KUBECTL" -n demo apply -f 06-mysql/useless-data.yaml; then echo "useless_data was accepted" >&2; exit 1; fi
kustomate render -f demo-mysql.yaml -n demo
start_operator mysql --namespace demo mysql
"$KUBECTL" -n demo apply -f demo-mysql.yaml
"$KUBECTL" -n demo wait --for=condition=Ready mysql/mysql-instance --timeout=120s
"$KUBECTL" -n demo get ms,pvc,deployment,service,jobs
"$KUBECTL" -n demo get mysql mysql-instance -o jsonpath='{.status.mysql_on_create.message}{"\n"}'
# delete: a backup Job runs, and completes, before the server goes; the backup claim and Job stay
"$KUBECTL" -n demo delete mysql mysql-instance --timeout=120s
"$KUBECTL" -n demo get jobs,pvc
# create it again: a restore Job loads the backup
"$KUBECTL" -n demo apply -f demo-mysql.yaml
"$KUBECTL" -n demo wait --for=condition=Ready mysql/mysql-instance --timeout=120s
"$KUBECTL" -n demo get mysql mysql-instance -o jsonpath='{.status.mysql_on_create.message}{"\n"}'
# the seed's second task: a new password; a Job changes it in the server, from the old Secret to the new one
"$KUBECTL" -n demo patch mysql mysql-instance --type=merge -p '{"spec":{"password":"newpassword"}}'
"$KUBECTL" -n demo wait --for=jsonpath='{.status.observedGeneration}'=2 mysql/mysql-instance --timeout=120s
"$KUBECTL" -n demo wait --for=condition=Ready mysql/mysql-instance --timeout=120s
"$KUBECTL" -n demo get mysql mysql-instance -o jsonpath='{.status.mysql_password.message}{"\n"}'
"$KUBECTL" -n demo get ms,jobs
"$KUBECTL" -n demo delete mysql mysql-instance --timeout=120s
# the backups outlive the MySQL; to remove them too: the claim, its volume, and the Jobs
VOLUME="$("$KUBECTL" -n demo get pvc backup-mysql-instance-pvc -o jsonpath='{.spec.volumeName}')"
"$KUBECTL" -n demo delete jobs,pvc -l kustomate.io/owner=mysql.otus.homework.mysql-instance
"$KUBECTL" delete pv "$VOLUME"
