import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from '../../src/runtime/queue.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('work queue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs one worker per key at a time and lets the latest item win', async () => {
    const gate = deferred();
    const seen: number[] = [];
    let running = 0;
    let maxRunning = 0;
    const q = new WorkQueue<number>(
      async (_key, item) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        seen.push(item);
        if (item === 1) await gate.promise;
        running--;
      },
      { concurrency: 4 },
    );
    q.add('a', 1);
    for (let i = 2; i <= 50; i++) q.add('a', i);
    gate.resolve();
    await q.idle();
    expect(maxRunning).toBe(1);
    expect(seen).toEqual([1, 50]);
  });

  it('bounds concurrency across keys', async () => {
    const gates = Array.from({ length: 5 }, deferred);
    let running = 0;
    let maxRunning = 0;
    const q = new WorkQueue<number>(
      async (_k, i) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gates[i]!.promise;
        running--;
      },
      { concurrency: 2 },
    );
    for (let i = 0; i < 5; i++) q.add(`k${i}`, i);
    expect(q.running).toBe(2);
    expect(q.depth).toBe(3);
    gates.forEach((g) => g.resolve());
    await q.idle();
    expect(maxRunning).toBe(2);
  });

  it('forgets idle keys, so memory stays flat', async () => {
    const q = new WorkQueue<number>(async () => {}, { concurrency: 3 });
    for (let i = 0; i < 1000; i++) q.add(`k${i}`, i);
    await q.idle();
    expect(q.size).toBe(0);
  });

  it('runs a key again after addAfter, unless newer work runs it first', async () => {
    const seen: string[] = [];
    const q = new WorkQueue<string>(async (_k, item) => void seen.push(item), { concurrency: 1 });
    q.addAfter('a', 'retry', 1_000);
    await vi.advanceTimersByTimeAsync(999);
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await q.idle();
    expect(seen).toEqual(['retry']);
    q.addAfter('b', 'late', 1_000);
    q.add('b', 'now');
    await q.idle();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(seen).toEqual(['retry', 'now']);
  });

  it('stop() waits for the running worker and takes no more work', async () => {
    const gate = deferred();
    const seen: number[] = [];
    const q = new WorkQueue<number>(async (_k, i) => {
      seen.push(i);
      await gate.promise;
    }, { concurrency: 1 });
    q.add('a', 1);
    q.add('b', 2);
    const stopped = q.stop();
    q.add('c', 3);
    gate.resolve();
    await stopped;
    expect(seen).toEqual([1]);
  });

  it('rejects a concurrency below 1', () => {
    expect(() => new WorkQueue(async () => {}, { concurrency: 0 })).toThrow(/concurrency/);
  });
});
