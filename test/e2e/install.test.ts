// kustomize/kustomate installs kustomate with least privilege, proven on a cluster that enforces
// OwnerReferencesPermissionEnforcement: the operator, as its own ServiceAccount, runs every example operator, may
// read no Secret, and holds exactly the permissions of the snapshot in fixtures/rbac-can-i.txt. Its pods pass Pod
// Security "restricted", which its namespace enforces.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, readyCondition, startOperator, tokenKubeconfig, waitFor, type OperatorProcess } from './helpers.ts';

const SA = 'system:serviceaccount:kustomate-system:kustomate';
const version = JSON.parse(await fs.readFile('package.json', 'utf8')).version as string;

/** The objects a kustomization renders (kubectl kustomize), by kind. */
async function render(dir: string): Promise<Map<string, any>> {
  const docs = parseAllDocuments((await k(['kustomize', dir])).stdout).map((d) => d.toJS());
  return new Map(docs.map((d) => [d.kind as string, d]));
}

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
    // Waits until the namespace is gone: a later apply -k into a terminating namespace would fail.
    await k(['delete', '-k', 'kustomize/kustomate', '--ignore-not-found', '--timeout=120s'], { reject: false, timeoutMs: 130_000 });
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

  it('is admitted where Pod Security "restricted" is enforced (its own namespace): a server-side dry-run of its pod passes, the pod without its security context does not', async () => {
    const labels = (await getJson(['namespace', 'kustomate-system'])).metadata.labels;
    expect(labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    // Enforcement applies to pods, not to the Deployment: a pod made of the Deployment's template, as its ReplicaSet makes them.
    const template = (await getJson(['deployment', 'kustomate', '-n', 'kustomate-system'])).spec.template;
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'kustomate-', namespace: 'kustomate-system', labels: template.metadata.labels }, spec: template.spec };
    const admitted = await k(['create', '--dry-run=server', '-f', '-', '-o', 'name'], { input: JSON.stringify(pod), reject: false });
    expect(admitted.exitCode, admitted.stderr).toBe(0);
    // Not even a warning (pod-security.kubernetes.io/warn is set too).
    expect(admitted.stderr).toBe('');
    const loose = structuredClone(pod);
    delete loose.spec.securityContext;
    for (const c of loose.spec.containers) delete c.securityContext;
    const refused = await k(['create', '--dry-run=server', '-f', '-', '-o', 'name'], { input: JSON.stringify(loose), reject: false });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('violates PodSecurity "restricted:latest"');
    // And the Deployment's own pods were created: its ReplicaSet was admitted for both.
    await waitFor('2 ready replicas', async () => (await getJson(['deployment', 'kustomate', '-n', 'kustomate-system']))?.status?.readyReplicas === 2, 60_000);
  });

  it('runs 2 replicas with leader election, probes /healthz and /readyz, has requests and limits, and a pinned image that an images override replaces', async () => {
    const base = await render('kustomize/kustomate');
    const deployment = base.get('Deployment');
    const container = deployment.spec.template.spec.containers[0];
    expect(deployment.spec.replicas).toBe(2);
    expect(container.args).toContain('--leader-election');
    expect(container.args).toContain('--health-host=0.0.0.0');
    const port = Number(container.args.find((a: string) => a.startsWith('--health-port=')).split('=')[1]);
    expect(container.ports).toEqual([{ name: 'health', containerPort: port }]);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(Object.keys(container.resources.requests).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(container.resources.limits).sort()).toEqual(['cpu', 'memory']);
    // The image npm run image builds, tagged with the package version: never a floating tag.
    expect(container.image).toBe(`localhost/kustomate:${version}`);
    // What `kustomize edit set image localhost/kustomate=…` writes into an overlay of the base.
    const overlay = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-overlay-'));
    try {
      await fs.writeFile(
        path.join(overlay, 'kustomization.yaml'),
        stringify({ resources: [path.relative(overlay, path.resolve('kustomize/kustomate'))], images: [{ name: 'localhost/kustomate', newName: 'registry.example.com/team/kustomate', newTag: '1.2.3' }] }),
      );
      expect((await render(overlay)).get('Deployment').spec.template.spec.containers[0].image).toBe('registry.example.com/team/kustomate:1.2.3');
    } finally {
      await fs.rm(overlay, { recursive: true, force: true });
    }
  });

  it('holds exactly the permissions of the snapshot: adding one means changing the snapshot, beside the test that needs it', async () => {
    const snapshot = (await fs.readFile('test/e2e/fixtures/rbac-can-i.txt', 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(await permissions(ns)).toEqual([...snapshot].sort());
  });

  it('holds in its own namespace, besides, only what leader election needs: its Lease, to get, create and renew', async () => {
    const everywhere = new Set(await permissions(ns));
    expect((await permissions('kustomate-system')).filter((p) => !everywhere.has(p))).toEqual(['leases.coordination.k8s.io [get create update]']);
  });
});
