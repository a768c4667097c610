// The Gordon operator end to end: replicas through the spec, pods listed in status by a timer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, readyCondition, startOperator, waitFor, type OperatorProcess } from './helpers.ts';

const INTERVAL_MS = 2_000;
const gn = (namespace: string, name: string, replicas: number) => ({
  apiVersion: 'operator.prgcont.cz/v1',
  kind: 'Gordon',
  metadata: { name, namespace },
  spec: { gordon: { replicas } },
});

describe('Gordon operator', () => {
  let ns: string;
  let operator: OperatorProcess;

  /** The live pods of one Gordon, found by the owner label every rendered object carries. */
  async function livePods(name: string): Promise<Array<{ name: string; phase: string }>> {
    const list = await getJson<{ items: any[] }>(['pods', '-n', ns, '-l', `kustomate.io/owner=gordon.operator.prgcont.cz.${name}`]);
    return list!.items
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => ({ name: p.metadata.name, phase: p.status.phase }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Waits until status lists exactly the live pods, all Running, `count` of them. */
  async function statusMatches(name: string, count: number) {
    return waitFor(`${name}: ${count} Running pods listed in status`, async () => {
      const g = await getJson(['gordon', name, '-n', ns]);
      const live = await livePods(name);
      const listed = (g.status?.gordon_pods?.pods ?? []).map((p: any) => ({ name: p.name, phase: p.phase }));
      return (
        live.length === count &&
        live.every((p) => p.phase === 'Running') &&
        JSON.stringify(listed) === JSON.stringify(live) &&
        g.status.gordon_pods.ready === count &&
        g
      );
    }, 90_000);
  }

  beforeAll(async () => {
    ns = await createNamespace('e2e-gordon');
    operator = startOperator(['--namespace', ns, 'gordon'], { KUSTOMATE_GORDON_INTERVAL_MS: String(INTERVAL_MS) });
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
  });

  it('replicas 3 gives 3 Running pods, listed in status with their phase', async () => {
    await applyObjects(gn(ns, 'g1', 3), gn(ns, 'g2', 1));
    const listed = await statusMatches('g1', 3);
    expect(listed.status.gordon_pods.replicas).toBe(3);
    // Ready once the Deployment itself reports its 3 replicas available (it may lag the pod list by an event).
    const g1 = await waitFor('g1 Ready', async () => {
      const g = await getJson(['gordon', 'g1', '-n', ns]);
      return readyCondition(g)?.status === 'True' && g;
    });
    expect(g1.status.gordon_pods.replicas).toBe(3);
    const pod = await getJson(['pod', g1.status.gordon_pods.pods[0].name, '-n', ns]);
    expect(pod.spec.containers[0].image).toBe('prgcont/gordon:v1.0');
  });

  it('replaces a deleted pod, and the status list catches up within the timer interval', async () => {
    const before = (await livePods('g1')).map((p) => p.name);
    await k(['delete', 'pod', before[0]!, '-n', ns, '--wait=true']);
    const replaced = await waitFor('a replacement pod', async () => {
      const now = (await livePods('g1')).filter((p) => p.phase === 'Running').map((p) => p.name);
      return now.length === 3 && !now.includes(before[0]!) && now;
    }, 60_000);
    const started = Date.now();
    const g1 = await statusMatches('g1', 3);
    expect(Date.now() - started).toBeLessThan(INTERVAL_MS * 3 + 5_000);
    expect(g1.status.gordon_pods.pods.map((p: any) => p.name)).toEqual([...replaced].sort());
  });

  it('scales down through the spec: replicas 1 leaves 1 pod', async () => {
    await k(['patch', 'gordon', 'g1', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { gordon: { replicas: 1 } } })]);
    const g1 = await statusMatches('g1', 1);
    expect(g1.status.gordon_pods.replicas).toBe(1);
  });

  it('keeps two Gordons independent', async () => {
    const g2 = await statusMatches('g2', 1);
    const g1 = await statusMatches('g1', 1);
    expect(g1.status.gordon_pods.pods[0].name).not.toBe(g2.status.gordon_pods.pods[0].name);
    expect(g1.status.gordon_pods.pods[0].name.startsWith('g1-gordon-')).toBe(true);
    expect(g2.status.gordon_pods.pods[0].name.startsWith('g2-gordon-')).toBe(true);
  });

  it('delete removes every pod of that Gordon, and only those', async () => {
    await k(['delete', 'gordon', 'g1', '-n', ns, '--timeout=90s']);
    await waitFor('no g1 pods', async () => (await livePods('g1')).length === 0, 90_000);
    expect(await getJson(['deployment', 'g1-gordon', '-n', ns])).toBeUndefined();
    expect(await livePods('g2')).toHaveLength(1);
  });
});
