// Why: one level-triggered reconcile of one object, as named steps: load → gate → validate → finalizer → plan →
// steps (build, apply, record, prune, health per kustomize spec; handlers) → timers → report. It reads the object
// afresh each time and decides everything from it; the event that woke it decides nothing.
import type { Logger } from 'pino';
import { ApiError, resourcePath, type Api, type KubeObject } from '../kube/api.ts';
import type { KubectlRunner } from '../kubectl/runner.ts';
import { PermanentError, isPermanent, isTemporary, reasonOf } from '../operator/errors.ts';
import type { Cause, Essence, HandlerContext, HandlerResult, Operator, Step } from '../operator/operator.ts';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffPolicy } from '../runtime/backoff.ts';
import { findCondition, type Verdict } from './conditions.ts';
import { handlerContext, type ContextDeps } from './context.ts';
import { encodeEssence, essenceOf, lastHandled } from './essence.ts';
import type { EventInfo, EventRecorder } from './events.ts';
import { addFinalizer, hasFinalizer, removeFinalizer } from './finalizer.ts';
import { fieldChange, passesFilters, runAttempt } from './handlers.ts';
import { sameJson } from './json.ts';
import { applyKustomization, deleteKustomization } from './kustomization.ts';
import { gate, readProgress, tokenDigest, type Progress } from './progress.ts';
import { writeReport, type Report } from './status.ts';
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
  /** Told of every step attempt, for metrics. */
  onStep?: (outcome: { operator: string; handler: string; cause: string; ok: boolean; durationMs: number }) => void;
}

/** Which object a queue key stands for; the uid tells a re-created object of the same name apart. */
export interface Target {
  namespace?: string | undefined;
  name: string;
  uid: string;
}

/** What the steps of one reconcile did, before it is reported. */
interface StepsOutcome {
  results: Record<string, unknown>;
  events: EventInfo[];
  failure?: { error: unknown; step: Step };
}

/** Failures are recorded under a token: the desired state they belong to, so a change of the object retries. */
const deleteToken = (desired: string) => `delete:${desired}`;

class Cancelled extends Error {
  override name = 'Cancelled';
}

/** Reconciles one object at a time (the queue guarantees that); returns when it wants to run again, in ms. */
export class Reconciler {
  private readonly deps: Required<Omit<ReconcilerDeps, 'onStep'>> & Pick<ReconcilerDeps, 'onStep'>;
  private readonly context: ContextDeps;
  private readonly timers = new TimerClock();
  /** Objects this reconciler has seen: resume handlers run once per process (per leadership term), for the others. */
  private readonly seen = new Set<string>();

  constructor(deps: ReconcilerDeps) {
    this.deps = { keepWorkdirs: false, backoff: DEFAULT_BACKOFF, now: Date.now, signal: new AbortController().signal, ...deps };
    this.context = {
      api: deps.api,
      kubectl: deps.kubectl,
      basesDir: deps.operator.basesDir ?? deps.basesDir,
      keepWorkdirs: this.deps.keepWorkdirs,
      logger: deps.logger,
    };
  }

  private get operator(): Operator<any> {
    return this.deps.operator;
  }

  /** Cancelled (a lost lease, the end of a grace period): this process must not touch anything any more. */
  private get cancelled(): boolean {
    return this.deps.signal.aborted;
  }

  async reconcile(target: Target): Promise<number | undefined> {
    if (this.cancelled) return undefined;
    const obj = await this.load(target);
    if (!obj) return this.forget(target.uid);
    if (obj.metadata.deletionTimestamp) return this.finalize(obj);
    return this.sync(obj);
  }

  /** The object is gone: nothing of it stays in memory. */
  forget(uid: string): undefined {
    this.seen.delete(uid);
    this.timers.forget(uid);
    return undefined;
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
  private async sync(loaded: KubeObject): Promise<number | undefined> {
    const essence = essenceOf(loaded);
    const desired = encodeEssence(essence);
    const progress = readProgress(loaded);

    // gate: a failure of this very state waits out its delay, or for good when it was permanent.
    const wait = gate(progress, desired, this.deps.now());
    if (wait.wait === 'never') return undefined;
    if (typeof wait.wait === 'number') return wait.wait;
    // validate: a bad object is reported once, and waits for a change (no retry loop).
    const problems = this.validate(loaded);
    if (problems.length) return this.fail(loaded, desired, 'create', progress, { results: {}, events: [] }, new PermanentError(problems.join('; '), 'InvalidSpec'));

    // The finalizer goes on before anything is applied. If the object changed meanwhile, start again from it.
    const obj = this.operator.needsFinalizer ? await addFinalizer(this.deps.api, this.operator.resource, loaded, this.deps.signal) : loaded;
    if (!obj) return 0;
    const last = lastHandled(obj);
    const cause = this.plan(obj, last?.encoded, desired, progress);
    this.seen.add(obj.metadata.uid ?? '');
    if (!cause) return this.upToDate(obj, desired);

    const outcome = await this.runSteps(obj, cause, cause === 'update' ? last?.essence : undefined, essence, failuresOf(progress, desired));
    if (outcome.failure) return this.fail(obj, desired, cause, progress, outcome, outcome.failure.error, outcome.failure.step);
    const message = summary(outcome.results) || `${cause} handled`;
    this.log(obj).info({ cause }, `${cause} succeeded`);
    return this.report(obj, {
      generation: obj.metadata.generation,
      verdict: { ready: true, reason: 'Succeeded', message },
      results: outcome.results,
      lastHandled: desired,
      ...(progress ? { progress: null } : {}),
      events: outcome.events.length ? outcome.events : [{ type: 'Normal', reason: pastTense(cause), message }],
    }, true);
  }

  private validate(obj: KubeObject): string[] {
    try {
      return this.operator.problems(obj);
    } catch (err) {
      return [`validation failed: ${(err as Error).message}`];
    }
  }

  /**
   * plan: why the steps must run, or undefined when the world already matches the spec. A failure recorded for the
   * handled state is retried as what it was (a resume); one recorded for another state (the spec was changed back
   * to the last-handled one) means the world may be half-changed: repair.
   */
  private plan(obj: KubeObject, handled: string | undefined, desired: string, progress: Progress | undefined): Cause | undefined {
    if (handled === undefined) return 'create';
    if (handled !== desired) return 'update';
    if (progress) return progress.token === tokenDigest(desired) && progress.cause === 'resume' ? 'resume' : 'repair';
    if (!this.seen.has(obj.metadata.uid ?? '') && this.operator.handlersFor('resume').length > 0) return 'resume';
    return undefined;
  }

  /** Nothing to apply: Ready stays (or becomes) True for this generation, and due timers run. */
  private upToDate(obj: KubeObject, desired: string): Promise<number | undefined> {
    const ready = findCondition(obj.status, 'Ready');
    const verdict: Verdict =
      ready?.status === 'True' ? { ready: true, reason: ready.reason, message: ready.message } : { ready: true, reason: 'Succeeded', message: 'up to date' };
    return this.report(obj, { generation: obj.metadata.generation, verdict, results: {}, lastHandled: desired, events: [] }, true);
  }

  /** The steps for a cause, in registration order: kustomize specs apply on create, update and repair. */
  private async runSteps(obj: KubeObject, cause: Cause, old: Essence | undefined, now: Essence, retry: number): Promise<StepsOutcome> {
    const out: StepsOutcome = { results: {}, events: [] };
    for (const step of this.operator.steps) {
      const extra = this.stepApplies(step, cause, obj, old, now);
      if (!extra) continue;
      try {
        if (this.cancelled) throw new Cancelled('cancelled before the step started');
        const result = await this.attempt(step, obj, cause, retry, extra);
        if (result && typeof result === 'object') out.results[step.id] = result;
        out.events.push({ type: 'Normal', reason: pastTense(cause), message: `${step.id} succeeded${messageOf(result) ? `: ${messageOf(result)}` : ''}` });
      } catch (error) {
        out.failure = { error, step };
        return out;
      }
    }
    return out;
  }

  /** Whether a step runs for this cause; with what it gets beyond the common context. */
  private stepApplies(step: Step, cause: Cause, obj: KubeObject, old: Essence | undefined, now: Essence): Partial<HandlerContext<any>> | undefined {
    if (step.kind === 'kustomize') return cause === 'create' || cause === 'update' || cause === 'repair' ? {} : undefined;
    if (!passesFilters(step.options, obj)) return undefined;
    if (step.cause === 'field') return cause === 'create' || cause === 'update' ? fieldChange(step.field ?? [], old, now) : undefined;
    if (step.cause !== cause) return undefined;
    return cause === 'update' ? { old, new: now, diff: fieldChange([], old, now)?.diff ?? [] } : {};
  }

  /** One attempt of a step, within its time limit; it has ended when this returns. */
  private async attempt(step: Step, obj: KubeObject, cause: Cause, retry: number, extra: Partial<HandlerContext<any>>, body = obj): Promise<HandlerResult> {
    const started = performance.now();
    const log = this.log(obj);
    const options = step.kind === 'handler' ? step.options : {};
    log.debug({ handler: step.id, cause }, 'handler started');
    let ok = false;
    try {
      const result = await runAttempt(
        (signal) => {
          const ctx = handlerContext({ ...this.context, logger: log }, obj, cause, retry, signal, extra);
          if (step.kind === 'handler') return step.fn(ctx);
          return cause === 'delete' ? deleteKustomization(this.context, step, ctx, body as never) : applyKustomization(this.context, step, ctx);
        },
        {
          id: step.id,
          timeoutMs: options.timeoutMs,
          parent: this.deps.signal,
          onLingering: (ms) => log.warn({ handler: step.id, ms }, 'a timed-out handler ignores its abort signal; the next attempt waits for it'),
        },
      );
      ok = true;
      return result;
    } finally {
      log.debug({ handler: step.id, cause }, 'handler finished');
      this.deps.onStep?.({ operator: this.operator.name, handler: step.id, cause, ok, durationMs: performance.now() - started });
    }
  }

  /** A failed step or validation: Ready=False with its reason, the retry state on the object, a Warning Event. */
  private async fail(obj: KubeObject, token: string, cause: Cause, progress: Progress | undefined, outcome: StepsOutcome, failure: unknown, step?: Step): Promise<number | undefined> {
    // Cancelled by shutdown or a lost lease: another process (or the next start) does this again; say nothing.
    if (this.cancelled) return undefined;
    let error = failure;
    const digest = tokenDigest(token);
    const state: Progress = progress?.token === digest ? { ...progress, cause } : { token: digest, attempt: 0, notBefore: 0, permanent: false, cause };
    const limit = step?.kind === 'handler' ? step.options.retries : undefined;
    if (limit !== undefined && state.attempt >= limit && !isPermanent(error)) {
      error = new PermanentError(`gave up after ${limit} retries: ${error instanceof Error ? error.message : String(error)}`, 'RetriesExhausted');
    }
    const reason = reasonOf(error);
    const text = error instanceof Error ? error.message : String(error);
    const message = step && !text.startsWith(`${step.id}:`) ? `${step.id}: ${text}` : text;
    let delay: number | undefined;
    if (isPermanent(error)) state.permanent = true;
    else if (isTemporary(error)) delay = error.delayMs;
    else delay = backoffDelay(state.attempt++, this.deps.backoff);
    state.notBefore = this.deps.now() + (delay ?? 0);
    this.log(obj).warn({ reason, handler: step?.id, retryInMs: delay, attempt: state.attempt }, message);
    await this.report(obj, {
      generation: obj.metadata.generation,
      verdict: { ready: false, reason, message, next: delay === undefined ? 'stall' : 'retry' },
      results: outcome.results,
      progress: state,
      events: [...outcome.events, { type: 'Warning', reason, message }],
    });
    return delay;
  }

  /** report: the one status write of this reconcile, then its Events; with `timers`, due timers add their results. */
  private async report(obj: KubeObject, report: Report, timers = false): Promise<number | undefined> {
    const next = timers && !this.cancelled ? await this.runTimers(obj, report) : undefined;
    if (this.cancelled) return undefined;
    const written = await writeReport(this.deps.api, this.operator.resource, obj, report, this.deps.signal);
    if (!written) return this.forget(obj.metadata.uid ?? '');
    for (const event of report.events) await this.deps.events(written, event, this.deps.signal);
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
    const token = deleteToken(encodeEssence(essenceOf(obj)));
    const wait = gate(progress, token, this.deps.now());
    if (wait.wait === 'never') return undefined;
    if (typeof wait.wait === 'number') return wait.wait;
    const body = this.deletable(obj);
    const out: StepsOutcome = { results: {}, events: [] };
    for (const step of [...this.operator.steps].reverse()) {
      if (step.kind === 'handler' && (step.cause !== 'delete' || !passesFilters(step.options, obj))) continue;
      if (step.kind === 'kustomize' && !body) continue;
      try {
        if (this.cancelled) throw new Cancelled('cancelled before the step started');
        const result = await this.attempt(step, obj, 'delete', failuresOf(progress, token), {}, body);
        out.events.push({ type: 'Normal', reason: 'Deleted', message: `${step.id} succeeded${messageOf(result) ? `: ${messageOf(result)}` : ''}` });
      } catch (error) {
        return this.fail(obj, token, 'delete', progress, out, error, step);
      }
    }
    if (this.cancelled) return undefined;
    for (const event of out.events) await this.deps.events(obj, event, this.deps.signal);
    await removeFinalizer(this.deps.api, this.operator.resource, obj, this.deps.signal);
    this.log(obj).info({ cause: 'delete' }, 'delete succeeded, finalizer removed');
    return this.forget(obj.metadata.uid ?? '');
  }

  /**
   * The object whose spec kustomize deletes render: the current one when it is valid, else one with the last-handled
   * spec (what was applied), else none: nothing was ever applied, and ownerReferences let the garbage collector
   * remove anything a failed first apply left.
   */
  private deletable(obj: KubeObject): KubeObject | undefined {
    if (this.validate(obj).length === 0) return obj;
    const spec = lastHandled(obj)?.essence?.spec;
    return spec === undefined ? undefined : { ...obj, spec };
  }

  private log(obj: KubeObject): Logger {
    return this.deps.logger.child({ namespace: obj.metadata.namespace, name: obj.metadata.name });
  }
}

/** How often the state behind `token` has failed so far (0 when the recorded failures are of another state). */
function failuresOf(progress: Progress | undefined, token: string): number {
  return progress?.token === tokenDigest(token) ? progress.attempt : 0;
}

function pastTense(cause: Cause): string {
  return { create: 'Created', update: 'Updated', delete: 'Deleted', resume: 'Resumed', repair: 'Repaired', timer: 'Timer' }[cause];
}

/** A step result's `message`, when it has one. */
function messageOf(result: unknown): string {
  return result && typeof result === 'object' && typeof (result as { message?: unknown }).message === 'string' ? (result as { message: string }).message : '';
}

/** Each step's `message`, for the Ready condition. */
function summary(results: Record<string, unknown>): string {
  return Object.values(results).map(messageOf).filter(Boolean).join('\n');
}
