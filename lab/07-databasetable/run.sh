#!/usr/bin/env bash
# Lab step 7 (the kopf DatabaseTable demo): a DatabaseTable becomes a PostgreSQL table, created, altered and
# dropped by the operator; a removed column is refused, and reverting the spec heals it.
set -euo pipefail
source "$(dirname "$0")/../common.sh"
# The database: the one in DATABASE_URL, else the project's own local PostgreSQL (npm run postgres:up).
if [ -z "${DATABASE_URL:-}" ]; then
  export_line="$(node "$ROOT/lab/postgres/up.ts")"
  eval "$export_line"
fi
describe() { node "$ROOT/lab/postgres/describe.ts" "$@"; }
# Wait until the operator has handled the current generation of DatabaseTable $1.
handled() {
  local generation
  generation="$("$KUBECTL" -n demo get databasetable "$1" -o jsonpath='{.metadata.generation}')"
  "$KUBECTL" -n demo wait --for=jsonpath='{.status.observedGeneration}'="$generation" "databasetable/$1" --timeout=120s
}
set -x
"$KUBECTL" apply -f demo-ns.yaml -f ../crds/databasetables.kopf.demo.yaml
"$KUBECTL" wait --for=condition=Established crd/databasetables.kopf.demo --timeout=60s
# The seed's example, applied before the operator runs: it is handled right after startup.
"$KUBECTL" apply -f demo-databasetable.yaml
"$KUBECTL" -n demo get databasetables
start_operator databasetable --namespace demo databasetable
"$KUBECTL" -n demo wait --for=condition=Ready databasetable/website-users --timeout=120s
# The statements that ran, kopf-style, in status.create_table.message.
"$KUBECTL" -n demo get databasetable website-users -o jsonpath='{.status.create_table.message}{"\n"}'
describe
describe website_users
# On update, an added column: ALTER TABLE ... ADD COLUMN.
"$KUBECTL" -n demo patch databasetable website-users --type=json -p '[{"op":"add","path":"/spec/columns/-","value":{"COUNTRY":"varchar(2)"}}]'
handled website-users
"$KUBECTL" -n demo wait --for=condition=Ready databasetable/website-users --timeout=60s
describe website_users
# A removed column is refused (Ready=False, reason UnsupportedChange), and the table is left untouched.
"$KUBECTL" -n demo patch databasetable website-users --type=json -p '[{"op":"remove","path":"/spec/columns/4"}]'
handled website-users
"$KUBECTL" -n demo wait --for=condition=Ready=false databasetable/website-users --timeout=60s
"$KUBECTL" -n demo get databasetable website-users -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}{"\n"}'
describe website_users
# Reverting the spec heals it.
"$KUBECTL" -n demo patch databasetable website-users --type=json -p '[{"op":"add","path":"/spec/columns/4","value":{"LAST_LOGIN":"timestamp"}}]'
handled website-users
"$KUBECTL" -n demo wait --for=condition=Ready databasetable/website-users --timeout=60s
"$KUBECTL" -n demo get databasetables
# On delete: DROP TABLE, then the finalizer goes.
"$KUBECTL" -n demo delete databasetable website-users --timeout=120s
describe website_users
