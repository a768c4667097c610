import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_DELAY_MS, WorkQueue } from '../../src/runtime/queue.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('work queue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs one worker per key at a time; any number of adds during a run give exactly one more run', async () => {
    const gate = deferred();
    let runs = 0;
    let running = 0;
    let maxRunning = 0;
    const q = new WorkQueue(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (++runs === 1) await gate.promise;
      running--;
      return undefined;
    }, { concurrency: 4 });
    q.add('a');
    for (let i = 0; i < 50; i++) q.add('a');
    gate.resolve();
    await q.idle();
    expect(maxRunning).toBe(1);
    expect(runs).toBe(2);
  });

  it('never lets a requeue from a worker hold back a newer state: the next run reads it at once', async () => {
    // The worker reads the object's state when it starts, as the reconciler loads the current object.
    const store = { state: 'v1' };
    const gate = deferred();
    const seen: string[] = [];
    const q = new WorkQueue(async () => {
      seen.push(store.state);
      if (seen.length === 1) await gate.promise;
      return 60_000; // a retry or a timer, asked for by the run that saw v1
    }, { concurrency: 1 });
    q.add('a');
    await vi.advanceTimersByTimeAsync(0);
    store.state = 'v2';
    q.add('a');
    gate.resolve();
    await q.idle();
    expect(seen).toEqual(['v1', 'v2']);
  });

  it('keeps a key forgotten while it ran: its requeue is dropped and it never runs again', async () => {
    const gate = deferred();
    let runs = 0;
    const q = new WorkQueue(async () => {
      runs++;
      await gate.promise;
      return 5_000;
    }, { concurrency: 1 });
    q.add('a');
    await vi.advanceTimersByTimeAsync(0);
    q.forget('a');
    gate.resolve();
    await q.idle();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs).toBe(1);
    expect(q.size).toBe(0);
  });

  it('drops a key forgotten while it waits, and tells when a forgotten key is gone for good', async () => {
    const gate = deferred();
    const ran: string[] = [];
    const dropped: string[] = [];
    const q = new WorkQueue(async (key) => {
      ran.push(key);
      if (key === 'a') await gate.promise;
      return undefined;
    }, { concurrency: 1, onForgotten: (key) => dropped.push(key) });
    q.add('a');
    q.add('b');
    q.forget('b'); // waiting behind a: never runs
    q.forget('a'); // running: dropped once it ends
    expect(dropped).toEqual(['b']);
    gate.resolve();
    await q.idle();
    expect(ran).toEqual(['a']);
    expect(dropped).toEqual(['b', 'a']);
    // A key the queue held nothing for (its object went while idle) is told at once, so no state outlives it.
    q.forget('idle');
    expect(dropped).toEqual(['b', 'a', 'idle']);
  });

  it('runs a key forgotten and then added again while it ran (the object came back in a relist)', async () => {
    const gate = deferred();
    let runs = 0;
    const q = new WorkQueue(async () => {
      if (++runs === 1) await gate.promise;
      return undefined;
    }, { concurrency: 1 });
    q.add('a');
    await vi.advanceTimersByTimeAsync(0);
    q.forget('a');
    q.add('a');
    gate.resolve();
    await q.idle();
    expect(runs).toBe(2);
  });

  it('waits a delay longer than 2^31 ms instead of running at once', async () => {
    let runs = 0;
    const q = new WorkQueue(async () => void runs++, { concurrency: 1 });
    q.addAfter('a', MAX_DELAY_MS + 10_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toBe(0);
    await vi.advanceTimersByTimeAsync(MAX_DELAY_MS);
    expect(runs).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runs).toBe(1);
  });

  it('runs a key again after addAfter, unless newer work runs it first; keeps the earlier of two delays', async () => {
    const seen: number[] = [];
    const q = new WorkQueue(async () => void seen.push(Date.now()), { concurrency: 1 });
    const t0 = Date.now();
    q.addAfter('a', 1_000);
    q.addAfter('a', 5_000);
    await vi.advanceTimersByTimeAsync(999);
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toEqual([t0 + 1_000]);
    q.addAfter('b', 1_000);
    q.add('b');
    await q.idle();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(seen).toHaveLength(2);
  });

  it('retries a worker that throws with growing delays, and a success resets them', async () => {
    const times: number[] = [];
    let fail = 3;
    const errors: number[] = [];
    const q = new WorkQueue(async () => {
      times.push(Date.now());
      if (fail-- > 0) throw new Error('API unreachable');
      return undefined;
    }, { concurrency: 1, backoff: { baseMs: 100, maxMs: 10_000, factor: 2, jitter: 0 }, onError: (_k, _e, ms) => errors.push(ms) });
    q.add('a');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(errors).toEqual([100, 200, 400]);
    expect(times).toHaveLength(4);
    expect(q.size).toBe(0);
  });

  it('bounds concurrency across keys', async () => {
    const gates = Array.from({ length: 5 }, deferred);
    let running = 0;
    let maxRunning = 0;
    const q = new WorkQueue(async (key) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await gates[Number(key)]!.promise;
      running--;
      return undefined;
    }, { concurrency: 2 });
    for (let i = 0; i < 5; i++) q.add(String(i));
    expect(q.running).toBe(2);
    expect(q.depth).toBe(3);
    gates.forEach((g) => g.resolve());
    await q.idle();
    expect(maxRunning).toBe(2);
  });

  it('lets a waiting worker lend its slot to the next key, up to maxLent, and gives it back before any new key starts', async () => {
    const gates = new Map(['a', 'b', 'c', 'd'].map((k) => [k, deferred()]));
    const events: string[] = [];
    let maxHeld = 0;
    const held = () => (maxHeld = Math.max(maxHeld, q.running - q.lending));
    const q: WorkQueue = new WorkQueue(async (key) => {
      held();
      const reclaim = q.lend();
      events.push(`${key} ${reclaim ? 'lent' : 'kept'}`);
      await gates.get(key)!.promise;
      await reclaim?.();
      held();
      events.push(`${key} done`);
      return undefined;
    }, { concurrency: 1, maxLent: 2 });
    for (const key of gates.keys()) q.add(key);
    // a and b wait with their slots lent; c finds the bound reached and keeps its slot, so d waits.
    expect(events).toEqual(['a lent', 'b lent', 'c kept']);
    expect(q.depth).toBe(1);
    gates.get('a')!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toHaveLength(3); // a's wait is over, but c holds the only slot
    gates.get('c')!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(events.slice(3)).toEqual(['c done', 'a done', 'd lent']); // a finished before d started
    gates.get('b')!.resolve();
    gates.get('d')!.resolve();
    await q.idle();
    expect(events.slice(6).sort()).toEqual(['b done', 'd done']);
    expect(maxHeld).toBe(1);
    expect(q.lending).toBe(0);
  });

  it('starts a queued key in the place a worker lends, when it lends after an await (as a reconcile does)', async () => {
    const gate = deferred();
    const q: WorkQueue = new WorkQueue(async () => {
      await Promise.resolve(); // the reconcile reads its object first
      const reclaim = q.lend();
      await gate.promise;
      await reclaim?.();
      return undefined;
    }, { concurrency: 2, maxLent: 4 });
    for (let i = 0; i < 8; i++) q.add(`k${i}`);
    await vi.advanceTimersByTimeAsync(0);
    // 4 lent places let 4 more start; the last 2 keep theirs, and 2 wait.
    expect([q.running, q.lending, q.depth]).toEqual([6, 4, 2]);
    gate.resolve();
    await q.idle();
    expect([q.running, q.lending, q.reclaiming]).toEqual([0, 0, 0]);
  });

  it('stop() waits for a lending worker to take its slot back and finish', async () => {
    const gates = { a: deferred(), b: deferred() };
    const done: string[] = [];
    const q: WorkQueue = new WorkQueue(async (key) => {
      const reclaim = q.lend();
      await gates[key as 'a' | 'b'].promise;
      await reclaim?.();
      done.push(key);
      return undefined;
    }, { concurrency: 1, maxLent: 1 });
    q.add('a');
    q.add('b');
    gates.a.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(q.reclaiming).toBe(1); // a waits for the slot b holds
    let stopped = false;
    const stopping = q.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    gates.b.resolve();
    await stopping;
    expect(done).toEqual(['b', 'a']);
    expect([q.running, q.lending]).toEqual([0, 0]);
  });

  it('lends nothing unless maxLent allows it', async () => {
    let reclaim: unknown = 'not asked';
    const q: WorkQueue = new WorkQueue(async () => ((reclaim = q.lend()), undefined), { concurrency: 1 });
    q.add('a');
    await q.idle();
    expect(reclaim).toBeUndefined();
    expect(() => new WorkQueue(async () => undefined, { concurrency: 1, maxLent: -1 })).toThrow(/maxLent/);
  });

  it('forgets idle keys, so memory stays flat', async () => {
    const q = new WorkQueue(async () => undefined, { concurrency: 3 });
    for (let i = 0; i < 1000; i++) q.add(`k${i}`);
    await q.idle();
    expect(q.size).toBe(0);
  });

  it('stop() waits for the running worker and takes no more work', async () => {
    const gate = deferred();
    const seen: string[] = [];
    const q = new WorkQueue(async (key) => {
      seen.push(key);
      await gate.promise;
      return undefined;
    }, { concurrency: 1 });
    q.add('a');
    q.add('b');
    const stopped = q.stop();
    q.add('c');
    gate.resolve();
    await stopped;
    expect(seen).toEqual(['a']);
  });

  it('rejects a concurrency below 1', () => {
    expect(() => new WorkQueue(async () => undefined, { concurrency: 0 })).toThrow(/concurrency/);
  });
});
