// Why: each kubectl process costs far more than the objects it handles, so work dirs that become ready together
// (a burst) share a few `kubectl kustomize` and `kubectl apply -k` runs on parent kustomizations, and the output is
// split back per custom resource by the owner-uid annotation every rendered object carries.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import type { KubeObject } from '../kube/api.ts';
import { KubectlError, type KubectlResult, type KubectlRunner } from '../kubectl/runner.ts';
import { applyArgs, applyOutput, renderArgs, renderOutput, runChecked, type ApplyOutput } from './commands.ts';
import { OWNER_UID_ANNOTATION } from './labels.ts';
import { workdirPrefix } from './workdir.ts';

export interface BatchOptions {
  /** How long a batch waits for another work dir to join (ms), unless every running reconcile has joined. */
  windowMs: number;
  /** The most work dirs one batch takes (its kubectl processes share them). */
  max: number;
  /** The most kubectl processes one batch runs at once, each on its share of the work dirs (DEFAULT_PROCESSES). */
  processes?: number;
}

/** One kubectl process per CPU core for a batch, up to 4: each holds tens of MB while it runs. */
export const DEFAULT_PROCESSES = Math.min(4, os.availableParallelism());

export const DEFAULT_BATCH: BatchOptions = { windowMs: 25, max: 200, processes: DEFAULT_PROCESSES };

/**
 * The fewest work dirs a batch gives each of its processes. kubectl applies the objects of one run one after
 * another, each a round trip to the API server (a write: tens of ms on a loaded one), so a big batch in one process
 * waits mostly for that; a process more costs about a tenth of a second of CPU to start.
 */
export const SHARE_AT_LEAST = 16;

/**
 * A batch cut, in order, into up to `most` shares of at least `least` work dirs each (one share when it is smaller),
 * their sizes at most one apart.
 */
export function shares<T>(batch: T[], most: number, least: number): T[][] {
  const count = Math.max(1, Math.min(most, Math.floor(batch.length / least)));
  const size = Math.floor(batch.length / count);
  const bigger = batch.length % count;
  const out: T[][] = [];
  for (let i = 0, start = 0; i < count; i++) {
    const end = start + size + (i < bigger ? 1 : 0);
    out.push(batch.slice(start, end));
    start = end;
  }
  return out;
}

/** The longest a batch waits for more work dirs, in windows: each one that joins starts the window again, up to this. */
export const WINDOWS_AT_MOST = 10;

/**
 * Reconciles in flight at once. With batching they share kubectl processes, so many in flight make big batches and
 * cost little more than their work dirs (their API requests share REQUEST_CONNECTIONS connections); without it each
 * runs its own kubectl, so fewer. One that waits for a batch lends its place to another (up to a batch's max of
 * them), so a batch can hold more objects than this.
 */
export const DEFAULT_CONCURRENCY = 64;
export const UNBATCHED_CONCURRENCY = 16;

type Op = 'render' | 'apply';

interface Item<T> {
  dir: string;
  uid: string;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

interface BatcherDeps {
  kubectl: KubectlRunner;
  /** Aborting it kills running kubectl processes (shutdown, a lost lease): shared by every object of a batch. */
  signal?: AbortSignal;
  /** How many reconciles are running now: when all of them wait here, nobody else can join, so a batch goes at once. */
  active: () => number;
  /**
   * Gives the caller's concurrency slot to another reconcile while it waits here, so batches can grow past the
   * reconciles that run at once; the returned function takes it back. Undefined: the caller keeps its slot.
   */
  lend?: () => (() => Promise<void>) | undefined;
}

/** Which custom resource a rendered or applied object belongs to. */
const ownerUid = (obj: KubeObject) => obj.metadata.annotations?.[OWNER_UID_ANNOTATION];

/**
 * Collects render and apply requests of work dirs and runs each group as one batch: one kubectl process, or a few
 * at once on shares of it when it is big. A single request with nobody else running goes at once, so a lone object
 * waits for nothing. When a run fails (one bad object fails the whole kubectl run, and `-o json` then prints
 * nothing), it is split in halves until each failure is alone, so every object gets its own result or its own
 * error, and the others succeed.
 */
export class KubectlBatcher {
  private readonly deps: BatcherDeps;
  private readonly opts: BatchOptions;
  private readonly queues: { render: Item<KubeObject[]>[]; apply: Item<ApplyOutput>[] } = { render: [], apply: [] };
  private readonly timers: Partial<Record<Op, ReturnType<typeof setTimeout>>> = {};
  /** When the first work dir of the batch being gathered arrived. */
  private readonly since: Partial<Record<Op, number>> = {};
  private readonly running: Record<Op, number> = { render: 0, apply: 0 };

  constructor(deps: BatcherDeps, opts: BatchOptions = DEFAULT_BATCH) {
    if (!Number.isInteger(opts.max) || opts.max < 1) throw new Error('batch max must be a whole number ≥ 1');
    if (!Number.isFinite(opts.windowMs) || opts.windowMs < 0) throw new Error('batch window must be ≥ 0 ms');
    if (opts.processes !== undefined && (!Number.isInteger(opts.processes) || opts.processes < 1)) throw new Error('batch processes must be a whole number ≥ 1');
    this.deps = deps;
    this.opts = opts;
  }

  /** `kubectl kustomize DIR`, batched: the objects of `uid` that the work dir renders. */
  render(dir: string, uid: string): Promise<KubeObject[]> {
    return this.enqueue('render', dir, uid);
  }

  /** `kubectl apply -k DIR --server-side`, batched: what was applied for `uid`, in kubectl's words and as objects. */
  apply(dir: string, uid: string): Promise<ApplyOutput> {
    return this.enqueue('apply', dir, uid);
  }

  private async enqueue<T>(op: Op, dir: string, uid: string): Promise<T> {
    // Lent before joining, so the reconcile it lets start counts among those a batch waits for.
    const reclaim = this.deps.lend?.();
    try {
      return await new Promise<T>((resolve, reject) => {
        (this.queues[op] as Item<T>[]).push({ dir, uid, resolve, reject });
        this.schedule(op);
      });
    } finally {
      await reclaim?.();
    }
  }

  private get waiting(): number {
    return this.queues.render.length + this.queues.apply.length;
  }

  /**
   * A batch goes when it is full, when every running reconcile waits here (nobody else can join), or when no work
   * dir has joined for the window (each one that joins starts it again, up to WINDOWS_AT_MOST windows in all): in
   * a burst, work dirs arrive one after another for as long as their reconciles take to get here, and the first
   * batch takes them all instead of the first few. Never while another batch of the same kind runs: what queues
   * meanwhile goes as one batch when it ends (group commit), so batches grow with the load.
   */
  private schedule(op: Op): void {
    if (this.running[op] > 0) return;
    const queue = this.queues[op];
    if (queue.length >= this.opts.max || this.waiting >= this.deps.active() || this.opts.windowMs === 0) return this.flush(op);
    const now = performance.now();
    const since = (this.since[op] ??= now);
    clearTimeout(this.timers[op]);
    this.timers[op] = setTimeout(() => this.flush(op), Math.max(0, Math.min(this.opts.windowMs, since + this.opts.windowMs * WINDOWS_AT_MOST - now)));
  }

  private flush(op: Op): void {
    clearTimeout(this.timers[op]);
    delete this.timers[op];
    delete this.since[op];
    const queue = this.queues[op] as Item<unknown>[];
    if (queue.length === 0) return;
    // One item per custom resource in a batch: its objects are told apart by its uid.
    const batch: Item<unknown>[] = [];
    for (let i = 0; i < queue.length && batch.length < this.opts.max; ) {
      if (batch.some((b) => b.uid === queue[i]!.uid)) i++;
      else batch.push(...queue.splice(i, 1));
    }
    this.running[op]++;
    // Its shares at once: what a failed one is split into runs within it, so no more than `processes` at a time.
    // The next batch waits for every share to end, whatever became of the others.
    const parts = shares(batch, this.opts.processes ?? DEFAULT_PROCESSES, SHARE_AT_LEAST);
    void Promise.allSettled(parts.map((part) => this.run(op, part))).finally(() => {
      this.running[op]--;
      this.flush(op);
    });
  }

  /**
   * Runs a batch (or a share of one); a failed one of several is split in halves, so each failure ends alone with
   * its own error. The halves run in turn: one kubectl process at a time for this share, failures or not.
   */
  private async run(op: Op, batch: Item<unknown>[]): Promise<void> {
    if (this.deps.signal?.aborted) {
      for (const item of batch) item.reject(new Error(`${op} cancelled before it started`));
      return;
    }
    if (batch.length === 1) {
      const [item] = batch;
      await this.runOne(op, item!.dir).then(item!.resolve, item!.reject);
      return;
    }
    let ran: { result: KubectlResult; byOwner: Map<string, KubeObject[]> } | undefined;
    try {
      ran = await this.runMany(op, batch);
    } catch (err) {
      // A run killed by its timeout tells nothing of which object is at fault, and its halves would each wait as
      // long: every object of it fails with the timeout, and retries with its own backoff.
      if (err instanceof KubectlError && err.result.timedOut) {
        for (const item of batch) item.reject(err);
        return;
      }
      ran = undefined;
    }
    if (!ran) {
      // One half after the other: each kubectl process holds tens of MB, and halves run side by side would, at the
      // bottom of a batch where everything fails, be as many processes at once as objects.
      const half = Math.ceil(batch.length / 2);
      await this.run(op, batch.slice(0, half));
      await this.run(op, batch.slice(half));
      return;
    }
    for (const item of batch) {
      const objects = ran.byOwner.get(item.uid) ?? [];
      item.resolve(op === 'render' ? objects : applyOutput(ran.result, objects));
    }
  }

  private runOne(op: Op, dir: string): Promise<unknown> {
    const env = { kubectl: this.deps.kubectl, signal: this.deps.signal };
    return op === 'render' ? runChecked(env, renderArgs(dir), 'BuildFailed').then(renderOutput) : runChecked(env, applyArgs(dir), 'ApplyFailed').then((r) => applyOutput(r));
  }

  /** One kubectl process on a parent kustomization of the batch's work dirs: its result, and its objects by owner uid. */
  private async runMany(op: Op, batch: Item<unknown>[]): Promise<{ result: KubectlResult; byOwner: Map<string, KubeObject[]> }> {
    const parent = await fs.mkdtemp(path.join(os.tmpdir(), `${await workdirPrefix()}-batch`));
    try {
      // kustomize takes other kustomizations as resources by relative path only.
      const resources = batch.map((item) => path.relative(parent, item.dir));
      await fs.writeFile(path.join(parent, 'kustomization.yaml'), stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources }));
      const env = { kubectl: this.deps.kubectl, signal: this.deps.signal };
      const result = await runChecked(env, op === 'render' ? renderArgs(parent) : applyArgs(parent), op === 'render' ? 'BuildFailed' : 'ApplyFailed');
      const byOwner = new Map<string, KubeObject[]>();
      for (const obj of op === 'render' ? renderOutput(result) : applyOutput(result).objects) {
        const uid = ownerUid(obj) ?? '';
        byOwner.set(uid, [...(byOwner.get(uid) ?? []), obj]);
      }
      return { result, byOwner };
    } finally {
      await fs.rm(parent, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
