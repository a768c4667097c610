// kustomize/kustomate installs kustomate with least privilege, proven on a cluster that enforces
// OwnerReferencesPermissionEnforcement: the operator, as its own ServiceAccount, runs every example operator, may
// read no Secret, and holds exactly the permissions of the snapshot in fixtures/rbac-can-i.txt.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, readyCondition, startOperator, tokenKubeconfig, waitFor, type OperatorProcess } from './helpers.ts';

const SA = 'system:serviceaccount:kustomate-system:kustomate';

/** `kubectl auth can-i --list` as the install ServiceAccount in a namespace, as sorted `resource verbs` lines. */
async function permissions(namespace: string): Promise<string[]> {
  const out = (await k(['auth', 'can-i', '--list', `--as=${SA}`, '-n', namespace])).stdout;
  return out
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s{2,}/))
    .filter((cols) => cols.length === 4 && cols[1] === '[]')
    .map(([resource, , , verbs]) => `${resource} ${verbs}`)
    .sort();
}

describe('the kustomate install base', () => {
  let ns: string;
  let dir: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    await k(['apply', '-k', 'kustomize/kustomate']);
    ns = await createNamespace('e2e-install');
    const token = (await k(['create', 'token', 'kustomate', '-n', 'kustomate-system', '--duration', '1h'])).stdout.trim();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-sa-'));
    const file = await tokenKubeconfig(token, dir, 'kustomate');
    operator = startOperator(['--kubeconfig', file, '--namespace', ns, '--leader-election', '--leader-election-namespace', 'kustomate-system', '--leader-election-id', 'e2e-install'], {
      DATABASE_URL: inject('databaseUrl'),
    });
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
    await k(['delete', '-k', 'kustomize/kustomate', '--ignore-not-found', '--wait=false'], { reject: false });
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('runs on a cluster that enforces OwnerReferencesPermissionEnforcement (a blockOwnerDeletion reference needs update on finalizers)', async () => {
    // A ServiceAccount that may create ConfigMaps, but not update a Sample's finalizers.
    await applyObjects(
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'probe', namespace: ns } },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'probe', namespace: ns }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'probe', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'probe' }, subjects: [{ kind: 'ServiceAccount', name: 'probe', namespace: ns }] },
      { apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: 'owner', namespace: ns }, spec: { count: 0 } },
    );
    const owner = await waitFor<any>('the Sample', async () => getJson(['sample', 'owner', '-n', ns]));
    const child = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'child', namespace: ns, ownerReferences: [{ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', name: 'owner', uid: owner.metadata.uid, blockOwnerDeletion: true }] } };
    const r = await k(['create', '-f', '-', `--as=system:serviceaccount:${ns}:probe`], { input: JSON.stringify(child), reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('cannot set blockOwnerDeletion');
  });

  it('lets the operator, as its ServiceAccount, lead and reconcile a Sample, a mysql Database, a Gordon, a MySQL and a DatabaseTable, and delete them', async () => {
    await waitFor('leader', async () => (await getJson(['lease', 'e2e-install', '-n', 'kustomate-system']))?.spec?.holderIdentity?.includes(`_${operator.proc.pid}_`), 30_000);
    await applyObjects(
      { apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: 's', namespace: ns }, spec: { count: 1 } },
      { apiVersion: 'zalando.org/v1', kind: 'Database', metadata: { name: 'd', namespace: ns }, spec: { type: 'mysql' } },
      { apiVersion: 'operator.prgcont.cz/v1', kind: 'Gordon', metadata: { name: 'g', namespace: ns }, spec: { gordon: { replicas: 1 } } },
      { apiVersion: 'otus.homework/v1', kind: 'MySQL', metadata: { name: 'm', namespace: ns }, spec: { image: 'mysql:5.7', database: 'otus-database', password: 'otuspassword', storage_size: '1Gi' } },
      { apiVersion: 'kopf.demo/v1', kind: 'DatabaseTable', metadata: { name: 't', namespace: ns }, spec: { tableName: `e2e_install_${ns.split('-').at(-1)}`, columns: [{ ID: 'integer' }], primaryKey: 'ID' } },
    );
    for (const [kind, name] of [['sample', 's'], ['database', 'd'], ['gordon', 'g'], ['mysql', 'm'], ['databasetable', 't']] as const) {
      await waitFor(`${kind} ${name} Ready`, async () => readyCondition(await getJson([kind, name, '-n', ns]))?.status === 'True', 60_000);
    }
    const database = await getJson(['database', 'd', '-n', ns]);
    expect((await getJson(['secret', `d-mysql-root-${database.metadata.uid.slice(0, 8)}`, '-n', ns])).metadata.ownerReferences[0].uid).toBe(database.metadata.uid);
    for (const [kind, name] of [['database', 'd'], ['sample', 's'], ['gordon', 'g'], ['mysql', 'm'], ['databasetable', 't']] as const) {
      await k(['delete', kind, name, '-n', ns, '--timeout=60s']);
    }
    // The MySQL was backed up first, as this ServiceAccount: the backup Job and claim outlive it.
    const backup = await getJson(['pvc', 'backup-m-pvc', '-n', ns]);
    expect(backup.metadata.annotations['kustomate.io/last-backup']).toMatch(/^backup-m-/);
    expect(await getJson(['pod', 'd-mysql', '-n', ns])).toBeUndefined();
    expect(await getJson(['deployment', 's-demo-deploy', '-n', ns])).toBeUndefined();
  });

  it('may read no Secret: kubectl auth can-i get secrets answers no, in kube-system and in a watched namespace', async () => {
    for (const where of ['kube-system', ns]) {
      const r = await k(['auth', 'can-i', 'get', 'secrets', '-n', where, `--as=${SA}`], { reject: false });
      expect(r.stdout.trim(), where).toBe('no');
    }
  });

  it('holds exactly the permissions of the snapshot: adding one means changing the snapshot, beside the test that needs it', async () => {
    const snapshot = (await fs.readFile('test/e2e/fixtures/rbac-can-i.txt', 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(await permissions(ns)).toEqual([...snapshot].sort());
  });
});
