// What wakes an object on the real control plane: someone else's change does; the watch event that echoes
// kustomate's own status write does not. And what a wake-up reads: the object the watch event brought, until
// kustomate has written the object itself.
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
  const sampleGets = async () => sumMetric((await k(['get', '--raw', '/metrics'])).stdout, 'apiserver_request_total', { group: 'nuvolaris.org', resource: 'samples', verb: 'GET' });

  beforeAll(async () => {
    ns = await createNamespace('e2e-reads');
    operator = startOperator(['--namespace', ns, '--relist-interval', '0', 'sample']);
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
  });

  it('reconciles 20 new Samples first from their ADDED events: the API server serves one GET fewer per Sample than there were reconciles', async () => {
    await waitFor('operator synced', async () => operator.logs().includes('listed; watching'));
    const before = await sampleGets();
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
    const { gets, reconciles } = await waitFor('the operator idle', async () => {
      const quiet = async () => (await metric(operator, 'kustomate_queue_running')) === 0 && (await metric(operator, 'kustomate_queue_depth')) === 0;
      if (!(await quiet())) return undefined;
      const reconciles = await metric(operator, 'kustomate_reconciles_total', { operator: 'sample' });
      const gets = (await sampleGets()) - before;
      const still = (await quiet()) && (await metric(operator, 'kustomate_reconciles_total', { operator: 'sample' })) === reconciles;
      return still && { gets, reconciles };
    }, 60_000);
    // Each Sample's later reconciles (its Deployment becoming available wakes it) read it afresh: an event may be
    // older than what the first one read or wrote.
    expect(reconciles).toBeGreaterThanOrEqual(20);
    expect(gets).toBeLessThanOrEqual(reconciles - 20);
    process.stdout.write(`reads: 20 Samples, ${reconciles} reconciles, ${gets} GETs\n`);
  });
});
