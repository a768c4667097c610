// The runtime end to end (issue #4), in-process: a test operator built with the public API, on the real cluster.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Operator, PermanentError, startOperators, type Handler, type RunningOperators } from 'kustomate';
import { DEFAULT_BASES_DIR } from '../../src/cli/paths.ts';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, KUBECTL, kubeconfig, readyCondition, testCrd, waitFor } from './helpers.ts';

const crd = testCrd('e2e.kustomate.io', 'Flaky', 'flakies', {
  spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
});

/** Each attempt's time, per object: what the test measures delays from. */
const attempts = new Map<string, number[]>();

/** Fails `spec.failTimes` times for each new spec, or for good with `spec.permanent`. */
const flaky: Handler = (ctx) => {
  const spec = ctx.spec as { failTimes?: number; permanent?: boolean };
  attempts.set(ctx.name, [...(attempts.get(ctx.name) ?? []), Date.now()]);
  if (spec.permanent) throw new PermanentError('told to fail for good', 'ToldToFail');
  if (ctx.retry < (spec.failTimes ?? 0)) throw new Error(`planned failure ${ctx.retry + 1}`);
  return { message: `ok after ${ctx.retry} retries` };
};

const operator = new Operator({ name: 'flaky', resource: { group: 'e2e.kustomate.io', version: 'v1', plural: 'flakies', kind: 'Flaky' } })
  .onCreate('flaky_create', flaky)
  .onUpdate('flaky_update', flaky);

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe('runtime, in-process on the real cluster', () => {
  let ns: string;
  let running: RunningOperators;

  beforeAll(async () => {
    await applyObjects(crd);
    await k(['wait', '--for=condition=Established', 'crd/flakies.e2e.kustomate.io', '--timeout=60s']);
    ns = await createNamespace('e2e-runtime');
    running = await startOperators({
      operators: [operator],
      namespaces: [ns],
      basesDir: DEFAULT_BASES_DIR,
      kubeconfig: kubeconfig(),
      kubectl: KUBECTL,
      logger: pino({ level: 'error' }),
    });
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await running.stop();
    await k(['delete', 'crd', 'flakies.e2e.kustomate.io', '--ignore-not-found']);
  });

  const flakyObj = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'e2e.kustomate.io/v1', kind: 'Flaky', metadata: { name, namespace: ns }, spec });
  const ready = (name: string, status: 'True' | 'False', timeoutMs = 60_000) =>
    waitFor(`${name} Ready=${status}`, async () => {
      const o = await getJson(['flaky', name, '-n', ns]);
      return readyCondition(o)?.status === status && o.status.observedGeneration === o.metadata.generation && o;
    }, timeoutMs);

  it('retries a handler that throws 3 times with growing delays, ends Ready, and resets its backoff', async () => {
    await applyObjects(flakyObj('three', { failTimes: 3 }));
    const done = await ready('three', 'True');
    expect(done.status.flaky_create.message).toBe('ok after 3 retries');
    expect(done.status.kustomate?.progress).toBeUndefined();
    const times = attempts.get('three')!;
    expect(times).toHaveLength(4);
    const [g1, g2, g3] = gaps(times);
    expect(g2!).toBeGreaterThan(g1!);
    expect(g3!).toBeGreaterThan(g2!);
    expect(g1!).toBeGreaterThanOrEqual(700);
    const warnings = await getJson<{ items: any[] }>(['events', '-n', ns, '--field-selector', 'involvedObject.name=three,type=Warning']);
    expect(warnings!.items.reduce((n, e) => n + (e.count ?? 1), 0)).toBe(3);

    // Reset: the next failure (for a new spec) waits the base delay again, not the 8 s that would come next.
    await k(['patch', 'flaky', 'three', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { failTimes: 1, round: 2 } })]);
    const again = await ready('three', 'True');
    expect(again.status.flaky_update.message).toBe('ok after 1 retries');
    const last = gaps(attempts.get('three')!.slice(-2))[0]!;
    expect(last).toBeLessThan(2_500);
  });

  it('stops on PermanentError with Ready=False and Stalled, and retries only when the spec changes', async () => {
    await applyObjects(flakyObj('doomed', { permanent: true }));
    const stalled = await ready('doomed', 'False');
    expect(readyCondition(stalled)).toMatchObject({ reason: 'ToldToFail', message: 'flaky_create: told to fail for good' });
    expect(stalled.status.conditions.find((c: any) => c.type === 'Stalled')).toMatchObject({ status: 'True' });
    await new Promise((r) => setTimeout(r, 5_000));
    expect(attempts.get('doomed')).toHaveLength(1);
    await k(['patch', 'flaky', 'doomed', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { permanent: false } })]);
    await ready('doomed', 'True');
    expect(attempts.get('doomed')).toHaveLength(2);
  });
});
