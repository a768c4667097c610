// The runtime end to end, in-process: a test operator built with the public API, on the real cluster.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Operator, PermanentError, TemporaryError, startOperators, type Handler, type RunningOperators } from 'kustomate';
import { DEFAULT_BASES_DIR } from '../../src/kustomize/bases.ts';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, KUBECTL, kubeconfig, readyCondition, testCrd, waitFor } from './helpers.ts';

const crd = testCrd('e2e.kustomate.io', 'Flaky', 'flakies', {
  spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
});

/** Each attempt's time, per object: what the test measures delays from. */
const attempts = new Map<string, number[]>();
/** Attempts running now, and the most ever running at once, per object. */
const inFlight = new Map<string, number>();
const mostAtOnce = new Map<string, number>();

interface FlakySpec {
  failTimes?: number;
  permanent?: boolean;
  sleepMs?: number;
  failDelete?: boolean;
  /** Throw TemporaryError asking for this delay. */
  laterMs?: number;
}

/** Fails `spec.failTimes` times for each new spec, for good with `spec.permanent`, or sleeps `spec.sleepMs`. */
const flaky: Handler = async (ctx) => {
  const spec = ctx.spec as FlakySpec;
  attempts.set(ctx.name, [...(attempts.get(ctx.name) ?? []), Date.now()]);
  inFlight.set(ctx.name, (inFlight.get(ctx.name) ?? 0) + 1);
  mostAtOnce.set(ctx.name, Math.max(mostAtOnce.get(ctx.name) ?? 0, inFlight.get(ctx.name)!));
  try {
    // Sleeps through its abort signal on purpose: a handler that ignores it must still never overlap itself.
    if (spec.sleepMs) await new Promise((r) => setTimeout(r, spec.sleepMs));
  } finally {
    inFlight.set(ctx.name, inFlight.get(ctx.name)! - 1);
  }
  if (spec.laterMs) throw new TemporaryError('come back much later', spec.laterMs);
  if (spec.permanent) throw new PermanentError('told to fail for good', 'ToldToFail');
  if (ctx.retry < (spec.failTimes ?? 0)) throw new Error(`planned failure ${ctx.retry + 1}`);
  return { message: `ok after ${ctx.retry} retries` };
};

/** Objects whose update handler ran with the label filter matching. */
const labelled: string[] = [];

const options = { timeoutMs: 2_000, retries: 3 };
const operator = new Operator({ name: 'flaky', resource: { group: 'e2e.kustomate.io', version: 'v1', plural: 'flakies', kind: 'Flaky' } })
  .onCreate('flaky_create', flaky, options)
  .onUpdate('flaky_update', flaky, options)
  .onUpdate('flaky_labelled', (ctx) => void labelled.push(ctx.name), { labels: { watched: 'yes' } })
  .onDelete('flaky_delete', (ctx) => {
    if ((ctx.spec as FlakySpec).failDelete) throw new Error('cannot let go yet');
  });

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

  it('fails an attempt that outlives its timeout, and gives up after the retry limit', async () => {
    await applyObjects(flakyObj('slow', { sleepMs: 5_000 }), flakyObj('hopeless', { failTimes: 10 }));
    const slow = await ready('slow', 'False');
    expect(readyCondition(slow).message).toBe('flaky_create: handler flaky_create timed out after 2000 ms');
    const hopeless = await ready('hopeless', 'False', 60_000).then(() =>
      waitFor('RetriesExhausted', async () => {
        const o = await getJson(['flaky', 'hopeless', '-n', ns]);
        return readyCondition(o)?.reason === 'RetriesExhausted' && o;
      }, 60_000),
    );
    expect(readyCondition(hopeless).message).toContain('gave up after 3 retries: planned failure 4');
    expect(hopeless.status.conditions.find((c: any) => c.type === 'Stalled').status).toBe('True');
    expect(attempts.get('hopeless')).toHaveLength(4);
    // A timed-out attempt that ignored its signal still ran to its end before the next one started.
    await waitFor('slow gives up', async () => readyCondition(await getJson(['flaky', 'slow', '-n', ns]))?.reason === 'RetriesExhausted', 90_000);
    expect(attempts.get('slow')).toHaveLength(4);
    expect(mostAtOnce.get('slow')).toBe(1);
  });

  it('waits a retry delay longer than 2^31 ms instead of reconciling again at once', async () => {
    const reconciles = async () => running.manager.metrics.reconciles.total();
    await applyObjects(flakyObj('patient', { laterMs: 3_000_000_000 }));
    const waiting = await ready('patient', 'False');
    expect(readyCondition(waiting)).toMatchObject({ reason: 'TemporaryError', message: 'flaky_create: come back much later' });
    await new Promise((r) => setTimeout(r, 1_000));
    const before = await reconciles();
    await new Promise((r) => setTimeout(r, 5_000));
    expect(await reconciles()).toBe(before);
    expect(attempts.get('patient')).toHaveLength(1);
  });

  it('runs a filtered handler only once the object carries the label', async () => {
    await applyObjects(flakyObj('tagged', {}));
    await ready('tagged', 'True');
    await k(['patch', 'flaky', 'tagged', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { round: 1 } })]);
    await waitFor('update handled', async () => (await getJson(['flaky', 'tagged', '-n', ns])).status?.flaky_update);
    expect(labelled).not.toContain('tagged');
    await k(['label', 'flaky', 'tagged', '-n', ns, 'watched=yes']);
    await waitFor('labelled handler ran', async () => labelled.includes('tagged'));
  });

  it('shows a failing delete handler in status and Events, keeps its finalizer, and lets go once it succeeds', async () => {
    await applyObjects(flakyObj('sticky', { failDelete: true }));
    await ready('sticky', 'True');
    // Another controller's finalizer must survive ours being removed.
    await k(['patch', 'flaky', 'sticky', '-n', ns, '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/metadata/finalizers/-', value: 'e2e.kustomate.io/keep' }])]);
    await k(['delete', 'flaky', 'sticky', '-n', ns, '--wait=false']);
    const stuck = await waitFor('delete failure in status', async () => {
      const o = await getJson(['flaky', 'sticky', '-n', ns]);
      return readyCondition(o)?.status === 'False' && o;
    });
    expect(readyCondition(stuck).message).toBe('flaky_delete: cannot let go yet');
    expect(stuck.metadata.finalizers).toEqual(['kustomate.io/finalizer', 'e2e.kustomate.io/keep']);
    const events = await getJson<{ items: any[] }>(['events', '-n', ns, '--field-selector', 'involvedObject.name=sticky,type=Warning']);
    expect(events!.items.map((e) => e.message)).toContain('flaky_delete: cannot let go yet');

    await k(['patch', 'flaky', 'sticky', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { failDelete: false } })]);
    const left = await waitFor('our finalizer removed', async () => {
      const o = await getJson(['flaky', 'sticky', '-n', ns]);
      return o && !o.metadata.finalizers.includes('kustomate.io/finalizer') && o;
    }, 60_000);
    expect(left.metadata.finalizers).toEqual(['e2e.kustomate.io/keep']);
    await k(['patch', 'flaky', 'sticky', '-n', ns, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/metadata/finalizers' }])]);
    await waitFor('sticky gone', async () => (await getJson(['flaky', 'sticky', '-n', ns])) === undefined);
  });
});
