// Why: serialize work per object (keyed by uid), let the latest state win, and bound concurrency across objects.

export type Worker<T> = (key: string, item: T) => Promise<void>;

interface Entry<T> {
  item: T;
  /** A newer item arrived (or a retry is due) while this key was running or waiting. */
  dirty: boolean;
  running: boolean;
  timer?: ReturnType<typeof setTimeout> | undefined;
}

export interface QueueOptions {
  concurrency: number;
}

/**
 * At most one worker runs per key; a key added while running runs again afterwards with the latest item only.
 * Keys with nothing pending are dropped from memory, so idle objects cost nothing.
 */
export class WorkQueue<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly ready: string[] = [];
  private active = 0;
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly worker: Worker<T>;
  private readonly concurrency: number;

  constructor(worker: Worker<T>, opts: QueueOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new Error('concurrency must be a whole number ≥ 1');
    this.worker = worker;
    this.concurrency = opts.concurrency;
  }

  /** Queue `item` for `key`; replaces any item still waiting for that key. */
  add(key: string, item: T): void {
    if (this.stopped) return;
    const entry = this.entries.get(key);
    if (!entry) {
      this.entries.set(key, { item, dirty: true, running: false });
      this.ready.push(key);
    } else {
      entry.item = item;
      if (entry.timer) {
        clearTimeout(entry.timer);
        entry.timer = undefined;
      }
      if (!entry.dirty) {
        entry.dirty = true;
        if (!entry.running) this.ready.push(key);
      }
    }
    this.pump();
  }

  /** Run `key` again after `ms` with its latest item, unless something newer runs it first. */
  addAfter(key: string, item: T, ms: number): void {
    if (this.stopped) return;
    const entry = this.entries.get(key) ?? { item, dirty: false, running: false };
    this.entries.set(key, entry);
    entry.item = item;
    if (entry.dirty) return; // already due
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      this.add(key, entry.item);
    }, ms);
    entry.timer.unref?.();
  }

  /** Drop a key's pending work and timers (the object is gone). A running worker finishes. */
  forget(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.dirty = false;
    if (!entry.running) this.entries.delete(key);
  }

  /** Keys held in memory: waiting, running or scheduled. */
  get size(): number {
    return this.entries.size;
  }

  /** Keys waiting for a worker. */
  get depth(): number {
    return this.ready.length;
  }

  get running(): number {
    return this.active;
  }

  /** Stop taking work, cancel timers, and resolve when running workers have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ready.length = 0;
    for (const [key, e] of this.entries) {
      if (e.timer) clearTimeout(e.timer);
      if (!e.running) this.entries.delete(key);
    }
    await this.idle();
  }

  /** Resolves when no worker is running and nothing is waiting. */
  idle(): Promise<void> {
    if (this.active === 0 && this.ready.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.active < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift()!;
      const entry = this.entries.get(key);
      if (!entry || entry.running || !entry.dirty) continue;
      entry.dirty = false;
      entry.running = true;
      this.active++;
      void this.worker(key, entry.item)
        .catch(() => {
          // The worker reports its own errors; the queue only keeps going.
        })
        .finally(() => {
          entry.running = false;
          this.active--;
          if (entry.dirty && !this.stopped) this.ready.push(key);
          else if (!entry.timer) this.entries.delete(key);
          this.pump();
          if (this.active === 0 && this.ready.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
        });
    }
    if (this.active === 0 && this.ready.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
  }
}
