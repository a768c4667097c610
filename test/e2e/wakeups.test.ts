// What wakes an object on the real control plane: someone else's change does; the watch event that echoes
// kustomate's own status write does not. And what a wake-up reads: the object the watch event brought, then what
// kustomate's own write left, and the children as their watch brought them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, metric, readyCondition, startOperator, sumMetric, waitFor, type OperatorProcess } from './helpers.ts';

describe('wake-ups', () => {
  let ns: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    ns = await createNamespace('e2e-wakeups');
    // No relist: every reconcile counted here comes from a watch event.
    operator = startOperator(['--namespace', ns, '--relist-interval', '0', 'database']);
  });
  afterAll(async () => {
    await operator.stop();
    await deleteNamespace(ns);
  });

  it('reconciles a Database that is invalid for good once: the echo of its status write wakes nothing', async () => {
    await waitFor('operator synced', async () => operator.logs().includes('listed; watching') && (await metric(operator, 'kustomate_reconciles_total')) === 0);
    // The CRD takes any image; the operator allows only the images it knows (InvalidSpec, for good).
    const db = (labels: Record<string, string> = {}) => ({
      apiVersion: 'zalando.org/v1',
      kind: 'Database',
      metadata: { name: 'foreign', namespace: ns, labels },
      spec: { type: 'mysql', image: 'evil.example.com/mysql:8.0' },
    });
    await applyObjects(db());
    const stalled = await waitFor('InvalidSpec', async () => {
      const o = await getJson(['database', 'foreign', '-n', ns]);
      return readyCondition(o)?.reason === 'InvalidSpec' && o;
    });
    expect(stalled.status.conditions.find((c: any) => c.type === 'Stalled')?.status).toBe('True');
    // The status write's MODIFIED event reaches the operator within milliseconds; give it ample time to act on it.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await metric(operator, 'kustomate_reconciles_total', { operator: 'database' })).toBe(1);
    // A change by someone else still wakes it.
    await applyObjects(db({ touched: 'yes' }));
    await waitFor('another reconcile', async () => (await metric(operator, 'kustomate_reconciles_total', { operator: 'database' })) >= 2, 15_000);
  });
});

describe('what a wake-up reads', () => {
  let ns: string;
  let operator: OperatorProcess;
  // The API server counts the requests it served (https://kubernetes.io/docs/reference/instrumentation/metrics/);
  // nothing else reads single Samples while this test runs (the test itself only creates and lists them).
  // Deployments too: the controllers read them through their informers, and kubectl's server-side apply sends no GET.
  // Code 200 only: the ownership check before an apply reads each new Deployment once, and finds none (404).
  const gets = async () => {
    const text = (await k(['get', '--raw', '/metrics'])).stdout;
    return {
      samples: sumMetric(text, 'apiserver_request_total', { group: 'nuvolaris.org', resource: 'samples', verb: 'GET' }),
      deployments: sumMetric(text, 'apiserver_request_total', { group: 'apps', resource: 'deployments', verb: 'GET', code: '200' }),
    };
  };

  beforeAll(async () => {
    ns = await createNamespace('e2e-reads');
    operator = startOperator(['--namespace', ns, '--relist-interval', '0', 'sample']);
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
  });

  it('reconciles 20 new Samples from what the watches brought: their later reconciles read neither the Sample nor its Deployment', async () => {
    await waitFor('operator synced', async () => operator.logs().includes('listed; watching'));
    const before = await gets();
    const names = Array.from({ length: 20 }, (_, i) => `r-${i}`);
    // kubectl create sends only POSTs (kubectl apply would GET each Sample first).
    const items = names.map((name) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name, namespace: ns }, spec: { count: 1 } }));
    await k(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
    await waitFor('every Sample Ready', async () => {
      const list = await getJson<{ items: any[] }>(['samples', '-n', ns]);
      return list!.items.filter((s) => readyCondition(s)?.status === 'True').length === 20;
    }, 120_000);
    // Counted when nothing runs or waits, and the reconciles did not move meanwhile: a GET is sent as a reconcile
    // starts, and the reconcile is counted as it ends.
    const { read, reconciles } = await waitFor('the operator idle', async () => {
      const quiet = async () => (await metric(operator, 'kustomate_queue_running')) === 0 && (await metric(operator, 'kustomate_queue_depth')) === 0;
      if (!(await quiet())) return undefined;
      const reconciles = await metric(operator, 'kustomate_reconciles_total', { operator: 'sample' });
      const now = await gets();
      const still = (await quiet()) && (await metric(operator, 'kustomate_reconciles_total', { operator: 'sample' })) === reconciles;
      return still && { read: { samples: now.samples - before.samples, deployments: now.deployments - before.deployments }, reconciles };
    }, 60_000);
    // Each Sample's first reconcile starts from its ADDED event; the later ones (its Deployment's status changes wake
    // it) from what its own status write left, and from its Deployment as the watch brought it, once the watches have
    // brought those writes. A watch that lags a moment costs a GET, so a few are allowed: reading afresh at every
    // reconcile would take one of each per later reconcile.
    const later = reconciles - 20;
    process.stdout.write(`reads: 20 Samples, ${reconciles} reconciles, ${read.samples} GETs of Samples, ${read.deployments} of Deployments\n`);
    expect(later).toBeGreaterThanOrEqual(20);
    expect(read.samples).toBeLessThanOrEqual(later / 4);
    expect(read.deployments).toBeLessThanOrEqual(later / 4);
  });
});
