// kustomize/kustomate installs kustomate with least privilege: the operator, running as its ServiceAccount
// (not as cluster-admin, unlike the seeds), can reconcile every example operator and elect a leader.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, readyCondition, startOperator, tokenKubeconfig, waitFor, type OperatorProcess } from './helpers.ts';

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
    operator = startOperator(['--kubeconfig', file, '--namespace', ns, '--leader-election', '--leader-election-namespace', 'kustomate-system', '--leader-election-id', 'e2e-install']);
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
    await k(['delete', '-k', 'kustomize/kustomate', '--ignore-not-found', '--wait=false'], { reject: false });
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('lets the operator, as its ServiceAccount, lead and reconcile a Sample, a mysql Database and a Gordon', async () => {
    await waitFor('leader', async () => operator.logs().includes('became the leader'), 30_000);
    await applyObjects(
      { apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: 's', namespace: ns }, spec: { count: 1 } },
      { apiVersion: 'zalando.org/v1', kind: 'Database', metadata: { name: 'd', namespace: ns }, spec: { type: 'mysql' } },
      { apiVersion: 'operator.prgcont.cz/v1', kind: 'Gordon', metadata: { name: 'g', namespace: ns }, spec: { gordon: { replicas: 1 } } },
    );
    for (const [kind, name] of [['sample', 's'], ['database', 'd'], ['gordon', 'g']] as const) {
      await waitFor(`${kind} ${name} Ready`, async () => readyCondition(await getJson([kind, name, '-n', ns]))?.status === 'True', 60_000);
    }
    expect(await getJson(['secret', 'd-mysql-root', '-n', ns])).toBeDefined();
    expect(operator.logs()).not.toMatch(/forbidden/i);
    await k(['delete', 'database', 'd', '-n', ns, '--timeout=60s']);
    await waitFor('mysql Pod gone', async () => (await getJson(['pod', 'd-mysql', '-n', ns])) === undefined);
  });
});
