import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BASES_DIR } from '../../src/cli/paths.ts';
import { resourcePath, type KubeObject } from '../../src/kube/api.ts';
import type { KubectlRunner } from '../../src/kubectl/runner.ts';
import { PermanentError, TemporaryError } from '../../src/runtime/errors.ts';
import { createEventRecorder } from '../../src/runtime/events.ts';
import { Operator, type Handler, type HandlerContext } from '../../src/runtime/operator.ts';
import { Reactor } from '../../src/runtime/reactor.ts';
import { StatusWriter, type Condition } from '../../src/runtime/status.ts';
import { FakeApi } from './fake-api.ts';

const resource = { group: 'x.io', version: 'v1', plural: 'things', kind: 'Thing' };
const path = resourcePath(resource, 'ns', 'a');
const noKubectl: KubectlRunner = async () => {
  throw new Error('no kubectl in this test');
};

/** A fresh Reactor over a shared fake API and clock: a second one plays a restarted operator. */
function world(op: Operator, obj: Partial<KubeObject> = {}) {
  const api = new FakeApi();
  const clock = { now: 0 };
  api.put(path, { apiVersion: 'x.io/v1', kind: 'Thing', metadata: { name: 'a', namespace: 'ns', uid: 'u' }, spec: { n: 1 }, ...obj } as KubeObject);
  const reactor = () =>
    new Reactor({
      api,
      operator: op,
      status: new StatusWriter(api, resource),
      events: createEventRecorder(api, () => {}),
      logger: pino({ level: 'silent' }),
      kubectl: noKubectl,
      basesDir: DEFAULT_BASES_DIR,
      backoff: { baseMs: 1_000, maxMs: 60_000, factor: 2, jitter: 0 },
      now: () => clock.now,
    });
  const patchSpec = (spec: unknown) => api.request('PATCH', path, { body: { spec }, contentType: 'application/merge-patch+json' });
  return { api, clock, reactor, current: () => api.get(path)!, patchSpec };
}

const cond = (o: KubeObject, type: string) => (o.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);
const op = () => new Operator({ name: 't', resource });

describe('handler lifecycle', () => {
  it('retries a handler that throws 3 times with growing delays, then ends Ready with its backoff reset', async () => {
    let calls = 0;
    const flaky: Handler = () => {
      if (++calls <= 3) throw new Error(`boom ${calls}`);
      return { message: 'ok' };
    };
    const w = world(op().onCreate('thing_create', flaky).onUpdate('thing_update', flaky));
    const r = w.reactor();
    const delays: Array<number | undefined> = [];
    for (let i = 0; i < 4; i++) {
      delays.push(await r.reconcile(w.current()));
      w.clock.now += delays.at(-1) ?? 0;
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, undefined]);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True' });
    expect((w.current().status as any).kustomate?.progress).toBeUndefined();
    // The reset shows on the next failure: it waits the base delay again, not 8 s.
    calls = 0;
    await w.patchSpec({ n: 2 });
    expect(await r.reconcile(w.current())).toBe(1_000);
  });

  it('keeps the retry state on the object, so a restarted operator keeps its backoff', async () => {
    const w = world(op().onCreate('thing_create', () => {
      throw new Error('always');
    }));
    await w.reactor().reconcile(w.current());
    w.clock.now += 1_000;
    await w.reactor().reconcile(w.current());
    expect((w.current().status as any).kustomate.progress).toMatchObject({ attempt: 2, permanent: false });
    // A new process (a new Reactor) waits out the stored delay instead of retrying at once.
    const restarted = w.reactor();
    expect(await restarted.reconcile(w.current())).toBe(2_000);
  });

  it('stops on PermanentError: Ready=False and Stalled, no retries until the spec changes', async () => {
    let calls = 0;
    const w = world(op().onCreate('thing_create', () => {
      calls++;
      throw new PermanentError('cannot do n=1', 'BadN');
    }));
    const r = w.reactor();
    expect(await r.reconcile(w.current())).toBeUndefined();
    w.clock.now += 600_000;
    expect(await r.reconcile(w.current())).toBeUndefined();
    expect(await w.reactor().reconcile(w.current())).toBeUndefined();
    expect(calls).toBe(1);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'BadN' });
    expect(cond(w.current(), 'Stalled')).toMatchObject({ status: 'True', message: expect.stringContaining('cannot do n=1') });
    await w.patchSpec({ n: 3 });
    await r.reconcile(w.current());
    expect(calls).toBe(2);
  });

  it('waits the delay a TemporaryError asks for', async () => {
    const w = world(op().onCreate('thing_create', () => {
      throw new TemporaryError('not yet', 7_000);
    }));
    expect(await w.reactor().reconcile(w.current())).toBe(7_000);
  });

  it('gives up after the retry limit with RetriesExhausted', async () => {
    let calls = 0;
    const w = world(op().onCreate('thing_create', () => {
      calls++;
      throw new Error('flaky');
    }, { retries: 2 }));
    const r = w.reactor();
    for (let i = 0; i < 5; i++) {
      const d = await r.reconcile(w.current());
      w.clock.now += d ?? 0;
    }
    expect(calls).toBe(3);
    expect(cond(w.current(), 'Ready')).toMatchObject({ reason: 'RetriesExhausted' });
  });

  it('fails an attempt that runs past its timeout and aborts its signal', async () => {
    let aborted = false;
    const w = world(op().onCreate('thing_create', (ctx: HandlerContext) =>
      new Promise(() => ctx.signal.addEventListener('abort', () => (aborted = true))), { timeoutMs: 50 }));
    expect(await w.reactor().reconcile(w.current())).toBe(1_000);
    expect(aborted).toBe(true);
    expect(cond(w.current(), 'Ready')?.message).toMatch(/timed out after 50 ms/);
  });

  it('runs only the handlers whose label, annotation and predicate filters match', async () => {
    const ran: string[] = [];
    const h = (id: string): Handler => () => void ran.push(id);
    const w = world(
      op()
        .onCreate('by_label', h('by_label'), { labels: { tier: 'web' } })
        .onCreate('label_absent', h('label_absent'), { labels: { skip: false } })
        .onCreate('by_annotation', h('by_annotation'), { annotations: { go: true } })
        .onCreate('by_predicate', h('by_predicate'), { when: (o) => (o.spec as { n: number }).n > 5 }),
      { metadata: { name: 'a', namespace: 'ns', uid: 'u', labels: { tier: 'web' } } },
    );
    await w.reactor().reconcile(w.current());
    expect(ran).toEqual(['by_label', 'label_absent']);
  });

  it('runs a field handler only when its field changes, with old, new and diff', async () => {
    const seen: Array<Partial<HandlerContext>> = [];
    const w = world(op().onField('n_changed', 'spec.n', (ctx) => void seen.push({ old: ctx.old, new: ctx.new, diff: ctx.diff })), {
      spec: { n: 1, other: 'x' },
    });
    const r = w.reactor();
    await r.reconcile(w.current());
    await w.patchSpec({ other: 'y' });
    await r.reconcile(w.current());
    await w.patchSpec({ n: 2 });
    await r.reconcile(w.current());
    expect(seen).toEqual([
      { old: undefined, new: 1, diff: [['add', ['spec', 'n'], undefined, 1]] },
      { old: 1, new: 2, diff: [['change', ['spec', 'n'], 1, 2]] },
    ]);
  });

  it('gives update handlers the old and new essence and their diff', async () => {
    let got: Partial<HandlerContext> = {};
    const w = world(op().onUpdate('thing_update', (ctx) => void (got = { old: ctx.old, new: ctx.new, diff: ctx.diff })));
    const r = w.reactor();
    await r.reconcile(w.current());
    await w.patchSpec({ n: 5 });
    await r.reconcile(w.current());
    expect(got).toEqual({ old: { spec: { n: 1 } }, new: { spec: { n: 5 } }, diff: [['change', ['spec', 'n'], 1, 5]] });
  });

  it('does not add a finalizer when there are no delete handlers', async () => {
    const w = world(op().onCreate('thing_create', () => ({ message: 'made' })));
    await w.reactor().reconcile(w.current());
    expect(w.current().metadata.finalizers).toBeUndefined();
  });
});
