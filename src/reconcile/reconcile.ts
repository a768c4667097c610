// Why: one level-triggered reconcile of one object, as named steps: load → gate → validate → finalizer → plan (with
// drift) → steps (build, apply, record, prune per kustomize spec; handlers) → health → timers → report. It starts
// from the object as it is now (read, or a copy as new as what its watch brought) and decides everything from it; the
// event that woke it decides nothing.
import type { Logger } from 'pino';
import { ApiError, resourcePath, type Api, type KubeObject } from '../kube/api.ts';
import { Discovery } from '../kube/discovery.ts';
import type { KubectlRunner } from '../kubectl/runner.ts';
import type { KubectlBatcher } from '../kustomize/batch.ts';
import { scrub } from '../kubectl/scrub.ts';
import { PermanentError, isPermanent, isTemporary, isWaiting, reasonOf, type WaitingError } from '../operator/errors.ts';
import type { Cause, DriftMode, Essence, Health, Operator, Step } from '../operator/operator.ts';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffPolicy } from '../runtime/backoff.ts';
import type { ChildStates } from './child-states.ts';
import { ChildView, describeDrift, driftOf, isJob, repaired, type Drift } from './children.ts';
import { findCondition, type Condition, type Verdict } from './conditions.ts';
import { handlerContext, type ContextDeps } from './context.ts';
import { encodeEssence, essenceOf, lastHandled } from './essence.ts';
import type { EventInfo, EventRecorder } from './events.ts';
import { addFinalizer, hasFinalizer, removeFinalizer } from './finalizer.ts';
import { runAttempt } from './handlers.ts';
import { healthOf } from '../operator/health.ts';
import { describeEntry, readInventory, type Inventory, type InventoryEntry } from './inventory.ts';
import { sameJson } from './json.ts';
import { gate, readProgress, tokenDigest, type Progress } from './progress.ts';
import { writeReport, type Report } from './status.ts';
import { Steps, messageOf, pastTense, type StepsOutcome } from './steps.ts';
import { TimerClock } from './timers.ts';

export interface ReconcilerDeps {
  api: Api;
  operator: Operator<any>;
  kubectl: KubectlRunner;
  /** Bases for operators that name no `basesDir` of their own. */
  basesDir: string;
  keepWorkdirs?: boolean;
  logger: Logger;
  events: EventRecorder;
  backoff?: BackoffPolicy;
  now?: () => number;
  /**
   * Aborted on shutdown (after the grace period) or a lost lease: running steps and requests are cancelled, no
   * further step starts, and nothing more is written.
   */
  signal?: AbortSignal;
  /** Shares kubectl processes between kustomize steps of objects reconciled at the same time. */
  batcher?: KubectlBatcher | undefined;
  /** Shared API discovery (kinds to REST paths); one is made when absent. */
  discovery?: Discovery;
  /** Overrides the operator's own `drift` and `healthTimeoutMs` (the command line's --drift, --health-timeout). */
  drift?: DriftMode | undefined;
  healthTimeoutMs?: number | undefined;
  /** Told of the children in an inventory, so they are watched. */
  onChildren?: (entries: InventoryEntry[]) => void;
  /** Which child states the children's watches brought (fed by them), so a reconcile may start from those. */
  childStates?: ChildStates | undefined;
  /** Told of every step attempt, for metrics. */
  onStep?: (outcome: { operator: string; handler: string; cause: string; ok: boolean; durationMs: number }) => void;
}

/** What the watches brought of an object and its children since its last reconcile started: each may spare a GET. */
export interface Brought {
  /** The object as the watch event that woke this reconcile brought it. */
  fromWatch?: KubeObject | undefined;
  /** The resourceVersion of the object's last event its watch brought. */
  watched?: string | undefined;
  /** Its children as their watch last brought them, by childKey. */
  children?: ReadonlyMap<string, KubeObject> | undefined;
}

/** Which object a queue key stands for; the uid tells a re-created object of the same name apart. */
export interface Target {
  namespace?: string | undefined;
  name: string;
  uid: string;
}

/** Failures are recorded under a token: the desired state they belong to, so a change of the object retries. */
const deleteToken = (desired: string) => `delete:${desired}`;

const DEFAULT_HEALTH_TIMEOUT_MS = 5 * 60_000;
/** A reconcile writes an object at most twice (finalizer, status); an echo of either may come late. */
const WRITES_REMEMBERED = 2;

/** Reconciles one object at a time (the queue guarantees that); returns when it wants to run again, in ms. */
export class Reconciler {
  private readonly deps: Required<Omit<ReconcilerDeps, 'onStep' | 'onChildren' | 'drift' | 'healthTimeoutMs' | 'batcher' | 'childStates'>> &
    Pick<ReconcilerDeps, 'onStep' | 'onChildren' | 'batcher' | 'childStates'>;
  private readonly context: ContextDeps;
  private readonly steps: Steps;
  private readonly driftMode: DriftMode;
  private readonly healthTimeoutMs: number;
  private readonly timers = new TimerClock();
  /** Objects this reconciler has seen: resume handlers run once per process (per leadership term), for the others. */
  private readonly seen = new Set<string>();
  /** The resourceVersions of this reconciler's last writes to each object (finalizer, status), newest last. */
  private readonly written = new Map<string, string[]>();
  /**
   * Objects this reconciler has reconciled at all. Kept until the object's deletion has reached the watch (`gone`),
   * not cleared by `forget`: the watch may still bring events older than what a reconcile read or did.
   */
  private readonly reconciled = new Set<string>();
  /** Objects with a write of this reconciler in flight → wake-ups held until it returns (an event may be its echo). */
  private readonly writing = new Map<string, Array<() => void>>();
  /**
   * Each object as this reconciler's last write left it (the write's answer as JSON, without managedFields), while
   * the object still wants another run: the next reconcile starts from a copy of it when the watch has shown nothing
   * after it. Text, so no handler can change what a later reconcile starts from.
   */
  private readonly leftBy = new Map<string, { resourceVersion: string; json: string }>();

  constructor(deps: ReconcilerDeps) {
    this.deps = {
      keepWorkdirs: false,
      backoff: DEFAULT_BACKOFF,
      now: Date.now,
      signal: new AbortController().signal,
      discovery: deps.discovery ?? new Discovery(deps.api),
      ...deps,
    } as Reconciler['deps'];
    this.context = {
      api: deps.api,
      kubectl: deps.kubectl,
      batcher: deps.batcher,
      basesDir: deps.operator.basesDir ?? deps.basesDir,
      keepWorkdirs: this.deps.keepWorkdirs,
      logger: deps.logger,
      children: this.childrenDeps,
      onRendered: deps.onChildren,
    };
    this.steps = new Steps({
      operator: deps.operator,
      context: this.context,
      children: this.childrenDeps,
      signal: this.deps.signal,
      onChildren: deps.onChildren,
      onStep: deps.onStep,
    });
    this.driftMode = deps.drift ?? deps.operator.drift ?? 'correct';
    this.healthTimeoutMs = deps.healthTimeoutMs ?? deps.operator.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
  }

  private get operator(): Operator<any> {
    return this.deps.operator;
  }

  private get childrenDeps() {
    return { api: this.deps.api, discovery: this.deps.discovery, signal: this.deps.signal, states: this.deps.childStates };
  }

  /** Cancelled (a lost lease, the end of a grace period): this process must not touch anything any more. */
  private get cancelled(): boolean {
    return this.deps.signal.aborted;
  }

  /**
   * Brings the world to the object's spec, or carries out its deletion. What the watches brought may spare GETs
   * (see `read`, and ChildView for the children).
   */
  async reconcile(target: Target, brought: Brought = {}): Promise<number | undefined> {
    if (this.cancelled) return undefined;
    let again: number | undefined;
    try {
      const obj = await this.read(target, brought.fromWatch, brought.watched);
      if (!obj) return this.forget(target.uid);
      again = await (obj.metadata.deletionTimestamp ? this.finalize(obj) : this.sync(obj, brought.children));
    } catch (err) {
      // A write whose answer was lost (a timeout) may have gone through: the retry reads the object.
      this.leftBy.delete(target.uid);
      throw err;
    }
    // Nothing more to do for it (no retry, no health or timer due): what the last write left is not kept meanwhile.
    if (again === undefined) this.leftBy.delete(target.uid);
    return again;
  }

  /**
   * The object's deletion has reached the watch (its DELETED event): no event of it can come any more, and nothing
   * of it stays in memory.
   */
  gone(uid: string): void {
    this.forget(uid);
    this.reconciled.delete(uid);
  }

  /** The object is gone, or its finalizer is off: what this reconciler kept for it goes. */
  forget(uid: string): undefined {
    this.seen.delete(uid);
    this.written.delete(uid);
    this.leftBy.delete(uid);
    this.timers.forget(uid);
    return undefined;
  }

  /**
   * Whether a watch event shows the object exactly as this reconciler's own last write left it: a resourceVersion
   * names one state of one object, and the reconcile that wrote it went on from that very state, so the event
   * brings nothing new (https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions).
   */
  isOwnWrite(obj: KubeObject): boolean {
    const rv = obj.metadata.resourceVersion;
    return rv !== undefined && (this.written.get(obj.metadata.uid ?? '') ?? []).includes(rv);
  }

  /**
   * Calls `wake` unless the event's object is the echo of this reconciler's own write. The API server may send
   * the watch event before the write's own response has been read, so while a write is in flight the decision
   * waits for it.
   */
  unlessOwnWrite(obj: KubeObject, wake: () => void): void {
    const held = this.writing.get(obj.metadata.uid ?? '');
    if (held) held.push(() => this.isOwnWrite(obj) || wake());
    else if (!this.isOwnWrite(obj)) wake();
  }

  /** Runs one write to the object, recording the resourceVersion it left; wake-ups held meanwhile are decided after. */
  private async write<T>(uid: string, run: () => Promise<T>, left: (result: T) => KubeObject | undefined): Promise<T> {
    const held: Array<() => void> = [];
    this.writing.set(uid, held);
    try {
      const result = await run();
      const obj = left(result);
      const rv = obj?.metadata.resourceVersion;
      if (rv) {
        this.written.set(uid, [...(this.written.get(uid) ?? []), rv].slice(-WRITES_REMEMBERED));
        this.leftBy.set(uid, { resourceVersion: rv, json: JSON.stringify({ ...obj, metadata: { ...obj.metadata, managedFields: undefined } }) });
      }
      return result;
    } finally {
      this.writing.delete(uid);
      for (const decide of held) decide();
    }
  }

  /**
   * The object to reconcile. A watch event's object stands in for a GET only for the object's first reconcile by
   * this reconciler, when nothing it read or wrote can be newer than the event. After that, an event may be older
   * than what a reconcile already read, or arrive after the answer to a later write of its own (or after the deletion
   * it carried out). What this reconciler's last write left stands in for a GET when the last event the watch brought
   * is that very write (`watched` is its resourceVersion, which names one state of one object): the watch brings
   * changes in order, so nobody has changed the object since, as far as a watch can tell yet. Otherwise a GET. A
   * change someone else made since is as possible as after a GET: its own event wakes the object again, and that
   * reconcile reads it. Meanwhile a finalizer not on yet goes on with a patch guarded by the resourceVersion read
   * (https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions), so nothing is applied for a
   * new object from an outdated copy.
   */
  private async read(target: Target, fromWatch: KubeObject | undefined, watched: string | undefined): Promise<KubeObject | undefined> {
    const first = !this.reconciled.has(target.uid);
    this.reconciled.add(target.uid);
    if (first && fromWatch?.metadata.uid === target.uid && !fromWatch.metadata.deletionTimestamp) return fromWatch;
    const left = this.leftBy.get(target.uid);
    return left && left.resourceVersion === watched ? (JSON.parse(left.json) as KubeObject) : this.load(target);
  }

  /** load: the object as the API server has it now; undefined when it is gone or was replaced by a namesake. */
  private async load(target: Target): Promise<KubeObject | undefined> {
    try {
      const obj = await this.deps.api.request<KubeObject>('GET', resourcePath(this.operator.resource, target.namespace, target.name), { signal: this.deps.signal });
      return obj.metadata.uid === target.uid ? obj : undefined;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** The object exists and is not being deleted: bring the world to its spec. */
  private async sync(loaded: KubeObject, children: Brought['children']): Promise<number | undefined> {
    const essence = essenceOf(loaded, this.operator.secretFields);
    const desired = encodeEssence(essence);
    const progress = readProgress(loaded);

    // gate: a failure of this very state waits out its delay, or for good when it was permanent.
    const wait = gate(progress, desired, this.deps.now());
    if (wait.wait === 'never') return undefined;
    if (typeof wait.wait === 'number') return wait.wait;
    // validate: a bad object is reported once, and waits for a change (no retry loop).
    const problems = this.validate(loaded);
    if (problems.length) return this.fail(loaded, desired, 'create', progress, { results: {}, events: [] }, new PermanentError(problems.join('; '), 'InvalidSpec'));

    // The finalizer goes on before anything is applied. Its patch is sent now and awaited before the first side
    // effect of the steps (an apply, a handler), so the work dir is built and checked meanwhile. It carries the
    // resourceVersion read: if the object changed since, it fails, nothing is applied, and the reconcile starts again
    // from the object as it is now.
    const uid = loaded.metadata.uid ?? '';
    const finalized: Promise<KubeObject | undefined> =
      this.operator.needsFinalizer && !hasFinalizer(loaded)
        ? this.write(uid, () => addFinalizer(this.deps.api, this.operator.resource, loaded, this.deps.signal), (o) => (o !== loaded ? o : undefined))
        : Promise.resolve(loaded);
    // Awaited on every path below; until then its failure is not an unhandled rejection.
    finalized.catch(() => undefined);
    try {
      return await this.proceed(loaded, finalized, essence, desired, progress, children);
    } finally {
      // Whatever failed meanwhile, the patch has ended before this reconcile does: two of one object never overlap.
      await finalized.catch(() => undefined);
    }
  }

  /** sync, once the finalizer's patch is on its way: plan, drift, steps, health and report. */
  private async proceed(
    loaded: KubeObject,
    finalized: Promise<KubeObject | undefined>,
    essence: Essence,
    desired: string,
    progress: Progress | undefined,
    brought: Brought['children'],
  ): Promise<number | undefined> {
    const uid = loaded.metadata.uid ?? '';
    const last = lastHandled(loaded);
    const inventory = readInventory(loaded);
    const children = this.children(inventory);
    this.deps.onChildren?.(this.tracked(inventory));
    const view = new ChildView(this.childrenDeps, brought);

    // plan, with drift: children deleted or changed by hand since the last apply.
    let cause = this.plan(loaded, last?.encoded, desired, progress);
    // Handled before inventories were kept (or by an operator with a new kustomize spec): apply once to record them.
    if (!cause && this.operator.kustomizations().some((k) => !(k.id in inventory))) cause = 'repair';
    const drifted = !cause || cause === 'resume' ? await this.findDrift(children, view) : [];
    const log = this.log(loaded);
    const repairing = drifted.length > 0 && this.driftMode === 'correct';
    if (repairing) {
      // Children gone with their namespace are not re-created; the status says what is missing (Ready=False).
      if (!cause && (await this.namespaceEnding(loaded))) {
        log.info('not repairing drift: the namespace is being deleted');
        const obj = await finalized;
        return obj ? this.settle(obj, desired, progress, inventory, view, { results: {}, events: [] }, undefined, []) : 0;
      }
      cause = 'repair';
    }
    // Seen (its resume done) only once the finalizer is on: a patch that found the object changed starts it over.
    const seen = () => {
      if (!repairing) this.seen.add(uid);
    };
    if (!cause) {
      const obj = await finalized;
      if (!obj) return 0;
      seen();
      return this.settle(obj, desired, progress, inventory, view, { results: {}, events: [] }, undefined, drifted);
    }

    const ready = async (): Promise<KubeObject> => (await finalized) ?? Promise.reject(new Error('the object changed before the finalizer went on'));
    const outcome = await this.steps.run(loaded, cause, cause === 'update' ? last?.essence : undefined, essence, failuresOf(progress, desired), inventory, view, log, ready);
    // A failed finalizer patch fails here as it is (the steps stopped before any side effect); a changed object starts again.
    const obj = await finalized;
    if (!obj) return 0;
    seen();
    if (this.driftMode === 'correct') {
      // Only a repair that went through says so; a failed one is reported by its own failure, and tried again.
      for (const d of drifted) {
        const what = outcome.failure ? d : repaired(d, await view.get(d.entry));
        outcome.events.unshift({ type: 'Warning', reason: 'Drifted', message: `${describeDrift(what)}; ${outcome.failure ? 'the repair failed' : 're-applied'}` });
      }
    }
    if (outcome.failure) {
      // Not recorded, so not retried: the object's own deletion comes next, and its status keeps the last handled state.
      if (await this.namespaceEnding(obj)) {
        log.info({ cause }, `${cause} failed, and is not retried: the namespace is being deleted`);
        return undefined;
      }
      return this.fail(obj, desired, cause, progress, outcome, outcome.failure.error, outcome.failure.step, inventory);
    }
    log.info({ cause }, `${cause} succeeded`);
    return this.settle(obj, desired, progress, inventory, view, outcome, cause, this.driftMode === 'warn' ? drifted : []);
  }

  /**
   * The children of the operator's current kustomize specs, which a repair re-applies (an inventory of a spec it no
   * longer has is only pruned).
   */
  private children(inventory: Inventory): InventoryEntry[] {
    return this.operator.kustomizations().flatMap((k) => inventory[k.id] ?? []);
  }

  /** Every child watched and judged for health: the kustomize specs', and what handlers applied themselves. */
  private tracked(inventory: Inventory): InventoryEntry[] {
    return this.operator.steps.flatMap((s) => inventory[s.id] ?? []);
  }

  private validate(obj: KubeObject): string[] {
    try {
      return this.operator.problems(obj);
    } catch (err) {
      return [`validation failed: ${(err as Error).message}`];
    }
  }

  /**
   * plan: why the steps must run, or undefined when the spec is handled. A failure recorded for the handled state
   * is retried as what it was (a resume); one recorded for another state (the spec was changed back to the
   * last-handled one) means the world may be half-changed: repair.
   */
  private plan(obj: KubeObject, handled: string | undefined, desired: string, progress: Progress | undefined): Cause | undefined {
    if (handled === undefined) return 'create';
    if (handled !== desired) return 'update';
    if (progress) return progress.token === tokenDigest(desired) && progress.cause === 'resume' ? 'resume' : 'repair';
    if (!this.seen.has(obj.metadata.uid ?? '') && this.operator.handlersFor('resume').length > 0) return 'resume';
    return undefined;
  }

  /**
   * Whether the object's namespace is being deleted. The namespace controller then deletes everything in it, children
   * first as often as not, and the NamespaceLifecycle admission plugin refuses anything new in it
   * (https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#namespacelifecycle): re-creating
   * a child could only fail, again and again, until the object's own deletion comes. Asked only when something is
   * wrong (drift, a failed step), so it costs nothing on the usual path. Not knowing (no right to read namespaces,
   * an error) is answered as before.
   */
  private async namespaceEnding(obj: KubeObject): Promise<boolean> {
    const namespace = obj.metadata.namespace;
    if (!namespace) return false;
    try {
      const ns = await this.deps.api.request<KubeObject>('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}`, { signal: this.deps.signal });
      return Boolean(ns.metadata.deletionTimestamp);
    } catch (err) {
      this.log(obj).debug({ err: (err as Error).message }, 'cannot tell whether the namespace is being deleted');
      return false;
    }
  }

  /** The children that differ from what was applied (none when drift is ignored). */
  private async findDrift(children: InventoryEntry[], view: ChildView): Promise<Drift[]> {
    if (this.driftMode === 'ignore') return [];
    const drifted: Drift[] = [];
    for (const entry of children) {
      const d = driftOf(entry, await view.get(entry));
      if (d) drifted.push(d);
    }
    return drifted;
  }

  /**
   * health and report after the steps succeeded (or had nothing to do): Ready=True once every child is healthy;
   * until then Progressing, woken by the children's events, and HealthCheckFailed past the health timeout.
   */
  private async settle(
    obj: KubeObject,
    desired: string,
    progress: Progress | undefined,
    inventory: Inventory,
    view: ChildView,
    outcome: StepsOutcome,
    cause: Cause | undefined,
    drifted: Drift[],
  ): Promise<number | undefined> {
    const health = await this.health(this.tracked(inventory), view);
    const now = this.deps.now();
    const recorded = Date.parse(String((obj.status?.kustomate as { progressingSince?: unknown } | undefined)?.progressingSince ?? ''));
    // The health clock starts at an apply, or when children stop being healthy.
    const applied = cause === 'create' || cause === 'update' || cause === 'repair';
    const since = health.healthy ? undefined : applied || Number.isNaN(recorded) ? now : recorded;
    let verdict: Verdict;
    let healthWait: number | undefined;
    if (health.healthy) {
      verdict = { ready: true, reason: 'Succeeded', message: cause ? summary(outcome.results) || `${cause} handled` : this.restingMessage(obj) };
    } else if (health.failed || now - since! >= this.healthTimeoutMs) {
      verdict = { ready: false, reason: 'HealthCheckFailed', message: health.message, next: 'stall' };
    } else {
      verdict = { ready: false, reason: 'Progressing', message: `waiting for ${health.message}`, next: 'progress' };
      healthWait = since! + this.healthTimeoutMs - now;
    }
    const events = cause ? (outcome.events.length ? outcome.events : [{ type: 'Normal' as const, reason: pastTense(cause), message: verdict.message }]) : [];
    const extraConditions = this.driftCondition(obj, drifted, events);
    const next = await this.report(obj, {
      generation: obj.metadata.generation,
      verdict,
      results: outcome.results,
      lastHandled: desired,
      ...(progress ? { progress: null } : {}),
      inventory,
      progressingSince: since === undefined ? null : new Date(since).toISOString(),
      ...(extraConditions.length ? { extraConditions } : {}),
      events,
    }, true);
    return healthWait === undefined ? next : Math.min(next ?? Infinity, healthWait);
  }

  /** The Ready message when nothing was applied: the one already there, else what the steps said last. */
  private restingMessage(obj: KubeObject): string {
    const ready = findCondition(obj.status, 'Ready');
    if (ready?.status === 'True') return ready.message;
    const last = Object.fromEntries(this.operator.steps.map((s) => [s.id, obj.status?.[s.id]]));
    return summary(last) || 'up to date';
  }

  /**
   * With drift: warn, a Drifted condition says what differs (False once nothing does), and each new drift an Event.
   * In another mode, a Drifted condition left from warn turns False.
   */
  private driftCondition(obj: KubeObject, drifted: Drift[], events: EventInfo[]): Condition[] {
    const before = findCondition(obj.status, 'Drifted');
    if (this.driftMode !== 'warn') {
      return before?.status === 'True' ? [{ type: 'Drifted', status: 'False', reason: this.driftMode === 'correct' ? 'Corrected' : 'Ignored', message: '' }] : [];
    }
    if (drifted.length === 0) return before ? [{ type: 'Drifted', status: 'False', reason: 'NoDrift', message: '' }] : [];
    const message = drifted.map(describeDrift).join('\n');
    if (before?.status !== 'True' || before.message !== message) events.push({ type: 'Warning', reason: 'Drifted', message: `${message}; not corrected (drift: warn)` });
    return [{ type: 'Drifted', status: 'True', reason: 'Drifted', message }];
  }

  /** The children's health: the first unhealthy ones named, with their own messages. */
  private async health(children: InventoryEntry[], view: ChildView): Promise<{ healthy: boolean; failed: boolean; message: string }> {
    const unhealthy: Array<{ entry: InventoryEntry; message: string; failed: boolean }> = [];
    for (const entry of children) {
      const live = await view.get(entry);
      const h = live ? healthOf(live, this.operator.healthChecks) : goneHealth(entry);
      if (!h.healthy) unhealthy.push({ entry, message: h.message, failed: h.failed === true });
    }
    const named = unhealthy.slice(0, 3).map((u) => `${describeEntry(u.entry)}: ${u.message}`);
    if (unhealthy.length > 3) named.push(`and ${unhealthy.length - 3} more`);
    return { healthy: unhealthy.length === 0, failed: unhealthy.some((u) => u.failed), message: named.join('; ') };
  }

  /** A failed step or validation: Ready=False with its reason, the retry state on the object, a Warning Event. */
  private async fail(
    obj: KubeObject,
    token: string,
    cause: Cause,
    progress: Progress | undefined,
    outcome: StepsOutcome,
    failure: unknown,
    step?: Step,
    inventory?: Inventory,
  ): Promise<number | undefined> {
    // Cancelled by shutdown or a lost lease: another process (or the next start) does this again; say nothing.
    if (this.cancelled) return undefined;
    if (isWaiting(failure)) return this.wait(obj, outcome, failure, step, inventory);
    let error = failure;
    const digest = tokenDigest(token);
    const state: Progress = progress?.token === digest ? { ...progress, cause } : { token: digest, attempt: 0, notBefore: 0, permanent: false, cause };
    const limit = step?.kind === 'handler' ? step.options.retries : undefined;
    if (limit !== undefined && state.attempt >= limit && !isPermanent(error)) {
      error = new PermanentError(`gave up after ${limit} retries: ${error instanceof Error ? error.message : String(error)}`, 'RetriesExhausted');
    }
    const reason = reasonOf(error);
    const text = scrub(error instanceof Error ? error.message : String(error));
    const message = step && !text.startsWith(`${step.id}:`) ? `${step.id}: ${text}` : text;
    let delay: number | undefined;
    if (isPermanent(error)) state.permanent = true;
    else if (isTemporary(error) && error.delayMs !== undefined) delay = error.delayMs;
    else delay = backoffDelay(state.attempt++, this.deps.backoff);
    state.notBefore = this.deps.now() + (delay ?? 0);
    this.log(obj).warn({ reason, handler: step?.id, retryInMs: delay, attempt: state.attempt }, message);
    await this.report(obj, {
      generation: obj.metadata.generation,
      verdict: { ready: false, reason, message, next: delay === undefined ? 'stall' : 'retry' },
      results: outcome.results,
      progress: state,
      ...(inventory ? { inventory } : {}),
      events: [...outcome.events, { type: 'Warning', reason, message }],
    });
    return delay;
  }

  /**
   * A step waits for something else: Ready=False with the wait's reason, Reconciling=True, a Normal Event when the
   * wait begins. The retry state is left alone, so a child's event may wake the object before the delay is up.
   */
  private async wait(obj: KubeObject, outcome: StepsOutcome, waiting: WaitingError, step: Step | undefined, inventory: Inventory | undefined): Promise<number> {
    const text = scrub(waiting.message);
    const message = step && !text.startsWith(`${step.id}:`) ? `${step.id}: ${text}` : text;
    const began = findCondition(obj.status, 'Ready')?.reason !== waiting.reason;
    this.log(obj).info({ reason: waiting.reason, handler: step?.id, retryInMs: waiting.delayMs }, message);
    await this.report(obj, {
      generation: obj.metadata.generation,
      verdict: { ready: false, reason: waiting.reason, message, next: 'progress' },
      results: outcome.results,
      ...(inventory ? { inventory } : {}),
      events: [...outcome.events, ...(began ? [{ type: 'Normal' as const, reason: waiting.reason, message }] : [])],
    });
    return waiting.delayMs;
  }

  /** report: the one status write of this reconcile, then its Events; with `timers`, due timers add their results. */
  private async report(obj: KubeObject, report: Report, timers = false): Promise<number | undefined> {
    const next = timers && !this.cancelled ? await this.runTimers(obj, report) : undefined;
    if (this.cancelled) return undefined;
    const uid = obj.metadata.uid ?? '';
    const written = await this.write(uid, () => writeReport(this.deps.api, this.operator.resource, obj, report, this.deps.signal), (w) => (w?.wrote ? w.object : undefined));
    if (!written) return this.forget(uid);
    for (const event of report.events) await this.deps.events(written.object, event, this.deps.signal);
    return next;
  }

  /** Runs the due timers into the report (a result is written only when it changed); returns ms until the next one. */
  private async runTimers(obj: KubeObject, report: Report): Promise<number | undefined> {
    const { due, nextMs, invalid } = this.timers.due(obj, this.operator.timers, this.deps.now());
    for (const id of invalid) this.log(obj).warn({ timer: id }, `timer ${id}: its intervalMs is not a number of ms ≥ 1 for this object; it does not run`);
    for (const timer of due) {
      this.timers.ran(obj.metadata.uid ?? '', timer.id, this.deps.now());
      try {
        const result = await runAttempt((signal) => timer.fn(handlerContext({ ...this.context, logger: this.log(obj) }, obj, 'timer', 0, signal)), {
          id: timer.id,
          parent: this.deps.signal,
        });
        if (result && typeof result === 'object' && !sameJson(obj.status?.[timer.id], result)) report.results[timer.id] = result;
      } catch (err) {
        this.log(obj).warn({ err, timer: timer.id }, `timer ${timer.id} failed`);
      }
    }
    return nextMs;
  }

  /** The object is being deleted: delete steps (in reverse order), then our finalizer goes. */
  private async finalize(obj: KubeObject): Promise<number | undefined> {
    if (!hasFinalizer(obj)) return this.forget(obj.metadata.uid ?? '');
    const progress = readProgress(obj);
    const token = deleteToken(encodeEssence(essenceOf(obj, this.operator.secretFields)));
    const wait = gate(progress, token, this.deps.now());
    if (wait.wait === 'never') return undefined;
    if (typeof wait.wait === 'number') return wait.wait;
    const inventory = readInventory(obj);
    // Watched, so the children going wake the object (after a restart, nothing else may have started their watch).
    this.deps.onChildren?.(this.tracked(inventory));
    const out = await this.steps.remove(obj, failuresOf(progress, token), inventory, this.log(obj));
    if (out.failure) return this.fail(obj, token, 'delete', progress, out, out.failure.error, out.failure.step, inventory);
    if (this.cancelled) return undefined;
    for (const event of out.events) await this.deps.events(obj, event, this.deps.signal);
    await removeFinalizer(this.deps.api, this.operator.resource, obj, this.deps.signal);
    this.log(obj).info({ cause: 'delete' }, 'delete succeeded, finalizer removed');
    return this.forget(obj.metadata.uid ?? '');
  }

  private log(obj: KubeObject): Logger {
    return this.deps.logger.child({ namespace: obj.metadata.namespace, name: obj.metadata.name });
  }
}

/** How often the state behind `token` has failed so far (0 when the recorded failures are of another state). */
function failuresOf(progress: Progress | undefined, token: string): number {
  return progress?.token === tokenDigest(token) ? progress.attempt : 0;
}

/**
 * A child that is gone: not healthy, but a Job, which is one run and may be removed once it finished
 * (ttlSecondsAfterFinished: https://kubernetes.io/docs/concepts/workloads/controllers/ttlafterfinished/).
 */
function goneHealth(entry: InventoryEntry): Health {
  return isJob(entry) ? { healthy: true, message: 'gone' } : { healthy: false, message: 'does not exist' };
}

/** Each step's `message`, for the Ready condition. */
function summary(results: Record<string, unknown>): string {
  return Object.values(results).map(messageOf).filter(Boolean).join('\n');
}
