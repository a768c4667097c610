// Children on the real control plane: drift repaired and reported (or only reported), Ready that waits for healthy
// children, and prune from the inventory, each broken on purpose: a child deleted or scaled by hand, pods no node
// can take, a delete refused by an admission policy, a namespace deleted under its custom resources.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DEFAULT_BASES_DIR } from '../../src/kustomize/bases.ts';
import { applyObjects, createNamespace, deleteNamespace, denyPolicy, getJson, healthPort, k, metric, metricServed, readyCondition, startOperator, waitFor, type OperatorProcess } from './helpers.ts';

const sampleObj = (namespace: string, name: string, count: number) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name, namespace }, spec: { count } });

describe('children', () => {
  let ns: string;
  const started: OperatorProcess[] = [];
  const operator = (args: string[]) => {
    const op = startOperator(['--namespace', ns, ...args]);
    started.push(op);
    return op;
  };
  const get = (kind: string, name: string) => getJson([kind, name, '-n', ns]);
  const ready = (kind: string, name: string, timeoutMs = 60_000) =>
    waitFor(`${kind} ${name} Ready`, async () => {
      const o = await get(kind, name);
      return readyCondition(o)?.status === 'True' && o.status.observedGeneration === o.metadata.generation && o;
    }, timeoutMs);
  const events = async (name: string, reason: string) =>
    ((await getJson<{ items: Array<{ message: string; type: string }> }>(['events', '-n', ns, '--field-selector', `involvedObject.name=${name},reason=${reason}`]))?.items ?? []);
  const kubectlRuns = (op: OperatorProcess) => metric(op, 'kustomate_kubectl_runs_total');
  /**
   * How many times `reason` was posted about exactly this object (kind, name and uid), by message. The API server
   * may fold repeats of one Event into a single object whose `count` (core/v1) or `series.count` (events.k8s.io)
   * says how often it happened, so each Event counts that many times.
   */
  const occurrences = async (kind: string, name: string, uid: string, reason: string) => {
    type Ev = { message: string; count?: number; series?: { count?: number } };
    const selector = `involvedObject.kind=${kind},involvedObject.name=${name},involvedObject.uid=${uid},reason=${reason}`;
    const items = (await getJson<{ items: Ev[] }>(['events', '-n', ns, '--field-selector', selector]))?.items ?? [];
    const byMessage: Record<string, number> = {};
    for (const e of items) byMessage[e.message] = (byMessage[e.message] ?? 0) + Math.max(1, e.count ?? 0, e.series?.count ?? 0);
    return byMessage;
  };

  beforeAll(async () => {
    ns = await createNamespace('e2e-children');
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((op) => op.stop('SIGKILL')));
  });
  afterAll(async () => {
    const cleaner = startOperator(['--namespace', ns]);
    await deleteNamespace(ns);
    await cleaner.stop();
  });

  it('re-creates a deleted child within 30 s and restores one scaled by hand, with a Drifted Event each time; relists run no kubectl', async () => {
    // The default relist (10 min) cannot be what repairs here: the children's watch must.
    operator(['sample']);
    await applyObjects(sampleObj(ns, 'drift', 2));
    const sample = await ready('sample', 'drift');
    const drifted = () => occurrences('Sample', 'drift', sample.metadata.uid, 'Drifted');
    const deletedMessage = `Deployment ${ns}/drift-demo-deploy was deleted; re-applied`;
    const scaledMessage = `Deployment ${ns}/drift-demo-deploy: spec.replicas changed by kubectl (scale); re-applied`;
    const settled = async () => {
      await waitFor('the Deployment rolled out at 2 replicas', async () => {
        const d = await get('deployment', 'drift-demo-deploy');
        const s = d?.status ?? {};
        return s.observedGeneration === d.metadata.generation && s.replicas === 2 && s.updatedReplicas === 2 && s.availableReplicas === 2;
      }, 60_000);
      await ready('sample', 'drift');
      await new Promise((r) => setTimeout(r, 3_000));
    };
    expect(sample.status.inventory.sample).toEqual([
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'drift-demo-deploy', fields: expect.stringMatching(/^[0-9a-f]{16}$/) },
    ]);

    const before = (await get('deployment', 'drift-demo-deploy')).metadata.uid;
    await k(['delete', 'deployment', 'drift-demo-deploy', '-n', ns, '--wait=false']);
    await waitFor('re-created within 30 s', async () => {
      const d = await get('deployment', 'drift-demo-deploy');
      return d && d.metadata.uid !== before && !d.metadata.deletionTimestamp;
    }, 30_000, 200);
    await waitFor('a Drifted Event for the deletion', async () => (await events('drift', 'Drifted')).some((e) => e.message === deletedMessage));
    // Each step of the roll-out that follows a repair wakes the Sample: a second report of the same repair would
    // come during it, so the count is taken once it is over.
    await settled();
    expect(await drifted(), 'one Drifted Event for the one repair').toEqual({ [deletedMessage]: 1 });

    await k(['scale', 'deployment', 'drift-demo-deploy', '-n', ns, '--replicas=7']);
    await waitFor('restored to 2 replicas', async () => (await get('deployment', 'drift-demo-deploy')).spec.replicas === 2, 30_000, 200);
    const scaled = await waitFor('a Drifted Event naming the field and who changed it', async () =>
      (await events('drift', 'Drifted')).find((e) => e.message.includes('spec.replicas changed by kubectl')), 30_000);
    expect(scaled.type).toBe('Warning');
    expect(scaled.message).toBe(scaledMessage);
    await settled();
    expect(await drifted(), 'one more Drifted Event for the second repair, none again for the first').toEqual({ [deletedMessage]: 1, [scaledMessage]: 1 });

    // Unchanged Samples and children, listed at start and relisted every 3 s: no kubectl at all.
    await Promise.all(started.splice(0).map((o) => o.stop('SIGTERM')));
    const op = operator(['--relist-interval', '3', 'sample']);
    await waitFor('synced', async () => (await fetch(`http://127.0.0.1:${await healthPort(op)}/readyz`)).status === 200, 30_000);
    await new Promise((r) => setTimeout(r, 2_000));
    const reconciled = await metric(op, 'kustomate_reconciles_total');
    expect(reconciled, 'the start-up list reconciled the Samples').toBeGreaterThanOrEqual(2);
    expect(await kubectlRuns(op)).toBe(0);
    await new Promise((r) => setTimeout(r, 8_000));
    expect(await metric(op, 'kustomate_reconciles_total'), 'relists reconciled them again').toBeGreaterThan(reconciled);
    expect(await kubectlRuns(op)).toBe(0);
    // 0 is a count, not a missing metric: the counter is served.
    expect(await metricServed(op, 'kustomate_kubectl_runs_total')).toBe(true);
  });

  it('re-applies nothing while its namespace is being deleted, though the namespace controller deletes the Deployment first', async () => {
    const doomed = await createNamespace('e2e-children-doomed');
    const keep = `e2e-children-keep-${doomed}`;
    const op = startOperator(['--namespace', doomed, 'sample']);
    started.push(op);
    const sample = () => getJson(['sample', 'doomed', '-n', doomed]);
    try {
      await applyObjects(sampleObj(doomed, 'doomed', 1));
      await waitFor('Ready', async () => readyCondition(await sample())?.status === 'True', 60_000);
      // The Sample outlives the rest of its namespace's content while deletes of Samples are refused.
      await applyObjects(...denyPolicy(keep, doomed, [{ apiGroups: ['nuvolaris.org'], apiVersions: ['*'], resources: ['samples'], operations: ['DELETE'] }], 'false', 'Samples are kept for this test'));
      await waitFor('the policy in force', async () => (await k(['delete', 'sample', 'doomed', '-n', doomed, '--dry-run=server'], { reject: false })).stderr.includes('kept for this test'), 30_000);
      const applies = await metric(op, 'kustomate_kubectl_runs_total', { verb: 'apply' });

      await k(['delete', 'namespace', doomed, '--wait=false']);
      await waitFor('the namespace controller deleted the Deployment', async () => !(await getJson(['deployment', 'doomed-demo-deploy', '-n', doomed])), 60_000, 200);
      // The deletion wakes the Sample (its children are watched), whose status then says what is missing.
      const waiting = await waitFor('Ready=False, waiting for the Deployment', async () => {
        const c = readyCondition(await sample());
        return c?.status === 'False' && c;
      }, 30_000, 200);
      expect(waiting).toMatchObject({ reason: 'Progressing', message: expect.stringContaining('doomed-demo-deploy') });
      expect(await metric(op, 'kustomate_kubectl_runs_total', { verb: 'apply' }), 'no apply into a namespace that refuses anything new').toBe(applies);
      expect(await getJson(['deployment', 'doomed-demo-deploy', '-n', doomed])).toBeUndefined();
      expect((await sample())?.metadata.deletionTimestamp, 'the Sample was still there, not being deleted').toBeUndefined();
    } finally {
      await k(['delete', 'validatingadmissionpolicy,validatingadmissionpolicybinding', keep, '--ignore-not-found'], { reject: false });
      // Once Samples may go, the namespace goes too, while the operator still runs: it removes the finalizer.
      await k(['delete', 'namespace', doomed, '--wait=false', '--ignore-not-found'], { reject: false });
      await waitFor('the namespace gone', async () => !(await getJson(['namespace', doomed])), 180_000, 1_000);
    }
  });

  it('with --drift warn changes nothing, and its Drifted condition says what differs', async () => {
    const op = operator(['--drift', 'warn', 'sample']);
    await applyObjects(sampleObj(ns, 'watched', 1));
    await ready('sample', 'watched');
    const runs = await kubectlRuns(op);
    await k(['scale', 'deployment', 'watched-demo-deploy', '-n', ns, '--replicas=5']);
    const s = await waitFor('Drifted condition', async () => {
      const o = await get('sample', 'watched');
      return o.status.conditions.find((c: any) => c.type === 'Drifted' && c.status === 'True') && o;
    }, 30_000);
    expect(s.status.conditions.find((c: any) => c.type === 'Drifted').message).toBe(`Deployment ${ns}/watched-demo-deploy: spec.replicas changed by kubectl (scale)`);
    await new Promise((r) => setTimeout(r, 5_000));
    expect((await get('deployment', 'watched-demo-deploy')).spec.replicas).toBe(5);
    expect(await kubectlRuns(op)).toBe(runs);
    expect(await events('watched', 'Drifted')).toHaveLength(1);
  });

  it('keeps Ready=False Progressing while pods cannot be scheduled, then HealthCheckFailed, and True within seconds of a node that fits', async () => {
    const bases = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-bases-'));
    const label = `kustomate-e2e-${ns}`;
    const [node] = (await k(['get', 'nodes', '-o', 'name'])).stdout.split('\n');
    try {
      await fs.cp(DEFAULT_BASES_DIR, bases, { recursive: true });
      const file = path.join(bases, 'sample', 'deployment.yaml');
      const deploy = parse(await fs.readFile(file, 'utf8'));
      deploy.spec.template.spec.nodeSelector = { [label]: 'yes' };
      await fs.writeFile(file, stringify(deploy));
      operator(['--bases', bases, '--health-timeout', '15', 'sample']);
      await applyObjects(sampleObj(ns, 'picky', 1));
      const waiting = await waitFor('Progressing', async () => {
        const o = await get('sample', 'picky');
        return readyCondition(o)?.reason === 'Progressing' && o;
      }, 30_000);
      expect(readyCondition(waiting).message).toMatch(new RegExp(`^waiting for Deployment ${ns}/picky-demo-deploy: `));
      expect(waiting.status.conditions.find((c: any) => c.type === 'Reconciling')).toMatchObject({ status: 'True', reason: 'Progressing' });
      const failed = await waitFor('HealthCheckFailed', async () => {
        const o = await get('sample', 'picky');
        return readyCondition(o)?.reason === 'HealthCheckFailed' && o;
      }, 40_000);
      // It names the child and quotes the child's own condition.
      expect(readyCondition(failed).message).toBe(`Deployment ${ns}/picky-demo-deploy: 0 of 1 replicas available: Deployment does not have minimum availability.`);

      const fixedAt = Date.now();
      await k(['label', node!, `${label}=yes`]);
      await ready('sample', 'picky', 60_000);
      expect(Date.now() - fixedAt).toBeLessThan(30_000);
    } finally {
      await k(['label', node!, `${label}-`], { reject: false });
      await fs.rm(bases, { recursive: true, force: true });
    }
  });

  it('prunes exactly the child a new render drops; one whose delete is refused stays listed and is retried', async () => {
    operator(['database']);
    const db = (type: string) => ({ apiVersion: 'zalando.org/v1', kind: 'Database', metadata: { name: 'pruned', namespace: ns }, spec: { type } });
    await applyObjects(db('mongo'), { apiVersion: 'zalando.org/v1', kind: 'Database', metadata: { name: 'bystander', namespace: ns }, spec: { type: 'mongo' } });
    await ready('database', 'pruned');
    await ready('database', 'bystander');
    const policy = 'e2e-children-block-delete';
    await applyObjects(
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: policy },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['*'], resources: ['pods'], operations: ['DELETE'] }] },
          validations: [{ expression: "oldObject.metadata.name != 'pruned-mongo'", message: 'deleting pruned-mongo is blocked for this test' }],
        },
      },
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name: policy },
        spec: { policyName: policy, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } } },
      },
    );
    try {
      await waitFor('the policy in force', async () => {
        const r = await k(['delete', 'pod', 'pruned-mongo', '-n', ns, '--dry-run=server'], { reject: false });
        return r.stderr.includes('blocked for this test');
      }, 30_000);
      await k(['patch', 'database', 'pruned', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { type: 'mysql' } })]);
      const stuck = await waitFor('PruneFailed', async () => {
        const o = await get('database', 'pruned');
        return readyCondition(o)?.reason === 'PruneFailed' && o;
      }, 30_000);
      expect(readyCondition(stuck).message).toContain(`Pod ${ns}/pruned-mongo`);
      expect(stuck.status.inventory.database.map((e: any) => `${e.kind}/${e.name}`).sort()).toEqual(['Pod/pruned-mongo', 'Pod/pruned-mysql', 'Service/pruned']);
    } finally {
      await k(['delete', 'validatingadmissionpolicybinding', policy, '--ignore-not-found']);
      await k(['delete', 'validatingadmissionpolicy', policy, '--ignore-not-found']);
    }
    const done = await ready('database', 'pruned', 90_000);
    expect(done.status.inventory.database.map((e: any) => `${e.kind}/${e.name}`).sort()).toEqual(['Pod/pruned-mysql', 'Service/pruned']);
    await waitFor('pruned-mongo gone', async () => (await get('pod', 'pruned-mongo')) === undefined);
    // Exactly that child: the other Database's children are all there.
    expect(await get('pod', 'bystander-mongo')).toBeDefined();
    expect(await get('service', 'bystander')).toBeDefined();
  });
});
