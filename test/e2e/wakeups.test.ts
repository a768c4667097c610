// What wakes an object on the real control plane: someone else's change does; the watch event that echoes
// kustomate's own status write does not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyObjects, createNamespace, deleteNamespace, getJson, metric, readyCondition, startOperator, waitFor, type OperatorProcess } from './helpers.ts';

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
