// Why: serialize work per object, bound concurrency across objects, and schedule each object's next run.
// It holds keys only: the worker finds the object's current state when it starts, so no queued copy can be stale.
import { DEFAULT_BACKOFF, backoffDelay, type BackoffPolicy } from './backoff.ts';

/** Runs one key; returns ms until it wants to run again (undefined: only when told). A throw retries with backoff. */
export type Worker = (key: string) => Promise<number | undefined>;

/** setTimeout fires at once for delays over a signed 32-bit count of ms; longer waits are cut to this and re-checked. */
export const MAX_DELAY_MS = 2 ** 31 - 1;

interface Entry {
  /** Due now: waiting in `ready`, or to run again once the running worker ends. */
  dirty: boolean;
  running: boolean;
  /** The object is gone: whatever the running worker asks for is dropped. */
  forgotten: boolean;
  timer?: ReturnType<typeof setTimeout> | undefined;
  dueAt?: number | undefined;
  /** Worker errors in a row, for the backoff of the next retry. */
  failures: number;
}

export interface QueueOptions {
  concurrency: number;
  backoff?: BackoffPolicy;
  /** Told of worker errors (the worker reports its own handler failures; these are API errors and the like). */
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  /** Told when a forgotten key is dropped for good (at once, or when its running worker has ended). */
  onForgotten?: (key: string) => void;
  /** The most workers that may give their slot back while they wait on something shared (see lend); default 0. */
  maxLent?: number;
}

/** Takes a lent slot back: resolves once the worker holds a slot again. */
export type Reclaim = () => Promise<void>;

/**
 * At most one worker runs per key. A key added while it runs runs once more afterwards. Keys with nothing pending
 * are dropped from memory, so idle objects cost nothing.
 */
export class WorkQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly ready: string[] = [];
  /** Workers started and not yet ended, lent slots included. */
  private active = 0;
  /** Workers that gave their slot back while they wait (see lend). */
  private lent = 0;
  /** Lending workers whose wait is over, first come first served, before any new key. */
  private readonly reclaimers: Array<() => void> = [];
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly worker: Worker;
  private readonly opts: Required<Omit<QueueOptions, 'onError' | 'onForgotten'>> & Pick<QueueOptions, 'onError' | 'onForgotten'>;

  constructor(worker: Worker, opts: QueueOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new Error('concurrency must be a whole number ≥ 1');
    if (opts.maxLent !== undefined && (!Number.isInteger(opts.maxLent) || opts.maxLent < 0)) throw new Error('maxLent must be a whole number ≥ 0');
    this.worker = worker;
    this.opts = { backoff: DEFAULT_BACKOFF, maxLent: 0, ...opts };
  }

  /**
   * A running worker that is about to wait on something that does not need a slot (a shared kubectl process) gives
   * its slot to the next key, so more work reaches that shared wait than `concurrency` alone allows. Call the
   * returned function when the wait is over; it resolves once a slot is free again, ahead of any new key. Undefined
   * when `maxLent` slots are lent already: the worker keeps its slot. The caller must take back what it lent, also
   * when its wait fails: the queue cannot tell which worker lent a slot.
   */
  lend(): Reclaim | undefined {
    if (this.lent >= this.opts.maxLent) return undefined;
    this.lent++;
    this.pump();
    let reclaimed: Promise<void> | undefined;
    return () =>
      (reclaimed ??= new Promise<void>((resolve) => {
        this.reclaimers.push(resolve);
        this.pump();
      }));
  }

  private entry(key: string): Entry {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { dirty: false, running: false, forgotten: false, failures: 0 };
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** Run `key` as soon as a worker is free (again after its current run, if running). */
  add(key: string): void {
    if (this.stopped) return;
    const entry = this.entry(key);
    entry.forgotten = false;
    this.clearTimer(entry);
    if (!entry.dirty) {
      entry.dirty = true;
      if (!entry.running) this.ready.push(key);
    }
    this.pump();
  }

  /** Run `key` after `ms`, unless it is due sooner already. Ignored for a key forgotten while it ran. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const entry = this.entries.get(key) ?? this.entry(key);
    if (entry.forgotten || entry.dirty) return;
    const dueAt = Date.now() + Math.max(0, ms);
    if (entry.timer && entry.dueAt !== undefined && entry.dueAt <= dueAt) return;
    this.clearTimer(entry);
    entry.dueAt = dueAt;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.dueAt = undefined;
      // A delay cut to MAX_DELAY_MS fires early: wait the rest.
      if (Date.now() < dueAt - 1) this.addAfter(key, dueAt - Date.now());
      else if (this.entries.get(key) === entry) this.add(key);
    }, Math.min(Math.max(0, ms), MAX_DELAY_MS));
    entry.timer.unref?.();
  }

  /**
   * The object is gone: drop the key's pending work and timers for good. A running worker finishes; its requeue is
   * ignored. onForgotten is told once nothing runs for it, also when the queue held nothing for the key.
   */
  forget(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return this.opts.onForgotten?.(key);
    this.clearTimer(entry);
    entry.dirty = false;
    entry.forgotten = true;
    if (!entry.running) this.drop(key);
  }

  private drop(key: string): void {
    this.entries.delete(key);
    this.opts.onForgotten?.(key);
  }

  /** Keys held in memory: waiting, running or scheduled. */
  get size(): number {
    return this.entries.size;
  }

  /** Keys waiting for a worker. */
  get depth(): number {
    return this.ready.length;
  }

  /** Workers running, those that lent their slot included. */
  get running(): number {
    return this.active;
  }

  /** Slots lent by waiting workers (see lend), those whose wait is over and that wait for a slot again included. */
  get lending(): number {
    return this.lent;
  }

  /** Lending workers whose wait is over, waiting for a slot again. */
  get reclaiming(): number {
    return this.reclaimers.length;
  }

  /** Workers that may still reach a shared wait: those running, less those whose wait is over. */
  get joinable(): number {
    return this.active - this.reclaimers.length;
  }

  /** Stop taking work, cancel timers, and resolve when running workers have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ready.length = 0;
    for (const [key, e] of this.entries) {
      this.clearTimer(e);
      if (!e.running) this.entries.delete(key);
    }
    await this.idle();
  }

  /** Resolves when no worker is running and nothing is waiting. */
  idle(): Promise<void> {
    if (this.active === 0 && this.ready.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private clearTimer(entry: Entry): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.dueAt = undefined;
  }

  private pump(): void {
    // Workers already under way finish first: their wait is over, and a new key would only add to what is in memory.
    // Served also after stop(), which waits for them.
    while (this.reclaimers.length > 0 && this.active - this.lent < this.opts.concurrency) {
      this.lent--;
      this.reclaimers.shift()!();
    }
    while (!this.stopped && this.active - this.lent < this.opts.concurrency && this.ready.length > 0) {
      const key = this.ready.shift()!;
      const entry = this.entries.get(key);
      if (!entry || entry.running || !entry.dirty) continue;
      entry.dirty = false;
      entry.running = true;
      this.active++;
      void this.run(key, entry);
    }
    if (this.active === 0 && this.ready.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
  }

  private async run(key: string, entry: Entry): Promise<void> {
    let again: number | undefined;
    try {
      again = await this.worker(key);
      entry.failures = 0;
    } catch (err) {
      again = backoffDelay(entry.failures++, this.opts.backoff);
      if (!entry.forgotten) this.opts.onError?.(key, err, again);
    }
    entry.running = false;
    this.active--;
    if (entry.forgotten) this.drop(key);
    else if (this.stopped) this.entries.delete(key);
    else if (entry.dirty) this.ready.push(key);
    else if (again !== undefined && Number.isFinite(again)) this.addAfter(key, again);
    else if (!entry.timer) this.entries.delete(key);
    this.pump();
  }
}
