// Why: the lifecycle: decide create/update/delete/resume from the object itself, run handlers, record the outcome.
import type { Logger } from 'pino';
import { patchContentType, resourcePath, type Api, type KubeObject } from '../kube/api.ts';
import { applyKustomization, deleteKustomization } from '../kubectl/kustomize.ts';
import type { KubectlResult, KubectlRunner } from '../kubectl/runner.ts';
import { ownerSelector } from '../kustomize/labels.ts';
import { createWorkdir, type KustomizeSpec } from '../kustomize/workdir.ts';
import { adopt } from './adopt.ts';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffPolicy } from './backoff.ts';
import { BuildError, KubectlError, PermanentError, TemporaryError, reasonOf } from './errors.ts';
import { LAST_HANDLED_ANNOTATION, diff, encodeEssence, essenceOf, lastHandled, type Essence } from './essence.ts';
import type { EventRecorder } from './events.ts';
import { addFinalizer, hasFinalizer, removeFinalizer } from './finalizer.ts';
import { fieldChange, passesFilters, runAttempt } from './handlers.ts';
import type { Cause, HandlerContext, Operator, RegisteredHandler } from './operator.ts';
import { progressStatus, readProgress, tokenDigest, type Progress } from './progress.ts';
import type { Condition, StatusWriter } from './status.ts';

export interface ReactorDeps {
  api: Api;
  operator: Operator;
  status: StatusWriter;
  events: EventRecorder;
  logger: Logger;
  kubectl: KubectlRunner;
  basesDir: string;
  keepWorkdirs?: boolean;
  backoff?: BackoffPolicy;
  now?: () => number;
  /** Aborted on shutdown; handed to handlers and kubectl runs. */
  signal?: AbortSignal;
  /** Told of every handler outcome, for metrics. */
  onHandler?: (outcome: { operator: string; handler: string; cause: string; ok: boolean; durationMs: number }) => void;
}

interface Outcome {
  /** The object is in a handled, non-failing state (timers may run). */
  handled: boolean;
  object: KubeObject;
  delay?: number | undefined;
}

/** Reconciles one object at a time (the queue guarantees that); returns a delay when it wants to run again. */
export class Reactor {
  private readonly deps: Required<Omit<ReactorDeps, 'signal' | 'onHandler'>> & Pick<ReactorDeps, 'onHandler'> & { signal: AbortSignal };
  /** Retry state by uid; also kept on the object (status.kustomate.progress) for the next process. */
  private readonly retries = new Map<string, Progress>();
  /** The essence last handled per uid in this process: guards against a watch event older than our own patch. */
  private readonly handledHere = new Map<string, string>();
  private readonly seen = new Set<string>();
  /** When each timer last ran, per uid. */
  private readonly timerRuns = new Map<string, Map<string, number>>();

  constructor(deps: ReactorDeps) {
    this.deps = { keepWorkdirs: false, backoff: DEFAULT_BACKOFF, now: Date.now, signal: new AbortController().signal, ...deps };
  }

  /** The object is gone: drop what we remember of it. */
  forget(uid: string): void {
    this.retries.delete(uid);
    this.handledHere.delete(uid);
    this.seen.delete(uid);
    this.timerRuns.delete(uid);
  }

  /** Runs the lifecycle, then any due timers; returns when it wants to run again (a retry or the next timer). */
  async reconcile(obj: KubeObject): Promise<number | undefined> {
    if (obj.metadata.deletionTimestamp) return this.finalize(obj);
    const outcome = await this.lifecycle(obj);
    if (!outcome.handled || this.deps.operator.timers.length === 0) return outcome.delay;
    const next = await this.runTimers(outcome.object);
    return outcome.delay === undefined ? next : Math.min(outcome.delay, next);
  }

  /** create/update/resume as the object calls for. */
  private async lifecycle(obj: KubeObject): Promise<Outcome> {
    const { operator } = this.deps;
    const uid = obj.metadata.uid ?? '';
    const essence = essenceOf(obj);
    const encoded = encodeEssence(essence);

    // Validation at the edge: a bad object is reported once, and waits for a change (no retry loop).
    const problems = operator.problems(obj);
    if (problems.length > 0) {
      const token = `invalid:${encoded}`;
      const gate = this.gate(obj, token);
      if (gate !== 'go') return { handled: false, object: obj, delay: gate };
      return { handled: false, object: obj, delay: await this.fail(obj, token, new PermanentError(problems.join('; '), 'InvalidSpec')) };
    }

    let current = obj;
    if (operator.handlersFor('delete').length > 0 && !hasFinalizer(current)) {
      current = await addFinalizer(this.deps.api, operator.resource, current);
    }

    const last = lastHandled(current);
    let cause: Cause | undefined;
    if (!last) cause = this.handledHere.get(uid) === encoded ? undefined : 'create';
    else if (last.encoded !== encoded && this.handledHere.get(uid) !== encoded) cause = 'update';
    else if (!this.seen.has(uid) && operator.handlersFor('resume').length > 0) cause = 'resume';
    this.seen.add(uid);
    if (!cause) return { handled: true, object: current };

    const token = `${cause}:${encoded}`;
    const gate = this.gate(current, token);
    if (gate !== 'go') return { handled: false, object: current, delay: gate };

    const old = cause === 'create' ? undefined : last?.essence;
    const results: Record<string, unknown> = {};
    for (const [handler, extra] of this.handlersToRun(cause, current, old, essence)) {
      try {
        const result = await this.attempt(handler, current, cause, extra);
        if (result && typeof result === 'object') results[handler.id] = result;
      } catch (err) {
        return { handled: false, object: current, delay: await this.fail(current, token, err, handler) };
      }
    }

    // Record what was handled before the status, so a status event never looks like an unhandled change.
    const annotated = await this.deps.api.request<KubeObject>(
      'PATCH',
      resourcePath(operator.resource, current.metadata.namespace, current.metadata.name),
      { body: { metadata: { annotations: { [LAST_HANDLED_ANNOTATION]: encoded } } }, contentType: patchContentType('merge') },
    );
    this.handledHere.set(uid, encoded);
    const hadProgress = this.retries.delete(uid) || readProgress(current) !== undefined;
    const message = summary(results) || `${cause} handled`;
    const written = await this.deps.status.write(annotated, {
      results,
      conditions: readyConditions(true, 'Succeeded', message),
      // A success resets the backoff, here and on the object.
      ...(hadProgress ? { extra: progressStatus(null) } : {}),
    });
    // One Event per handler that ran, as kopf does; failures get theirs in fail().
    for (const [id, result] of Object.entries(results)) {
      await this.deps.events(annotated, { type: 'Normal', reason: pastTense(cause), message: `${id} succeeded${messageOf(result) ? `: ${messageOf(result)}` : ''}` });
    }
    if (Object.keys(results).length === 0) await this.deps.events(annotated, { type: 'Normal', reason: pastTense(cause), message });
    this.log(current).info({ cause }, `${cause} succeeded`);
    return { handled: true, object: written ?? annotated };
  }

  /** The handlers for a cause that pass their filters, with field handlers whose field changed. */
  private handlersToRun(cause: Cause, obj: KubeObject, old: Essence | undefined, now: Essence): Array<[RegisteredHandler, Partial<HandlerContext>]> {
    const { operator } = this.deps;
    const out: Array<[RegisteredHandler, Partial<HandlerContext>]> = [];
    const whole = cause === 'update' ? { old, new: now, diff: diff(old, now) } : {};
    for (const h of operator.handlersFor(cause)) if (passesFilters(h.options, obj)) out.push([h, whole]);
    if (cause === 'create' || cause === 'update') {
      for (const h of operator.handlersFor('field')) {
        const change = fieldChange(h.field ?? [], old, now);
        if (change && passesFilters(h.options, obj)) out.push([h, change]);
      }
    }
    return out;
  }

  private async attempt(handler: RegisteredHandler, obj: KubeObject, cause: Cause, extra: Partial<HandlerContext>) {
    const started = performance.now();
    const log = this.log(obj);
    log.debug({ handler: handler.id, cause }, 'handler started');
    try {
      const result = await runAttempt(handler, (signal) => this.context(obj, cause, extra, signal), this.deps.signal);
      log.debug({ handler: handler.id, cause }, 'handler finished');
      this.deps.onHandler?.({ operator: this.deps.operator.name, handler: handler.id, cause, ok: true, durationMs: performance.now() - started });
      return result;
    } catch (err) {
      log.debug({ handler: handler.id, cause }, 'handler finished');
      this.deps.onHandler?.({ operator: this.deps.operator.name, handler: handler.id, cause, ok: false, durationMs: performance.now() - started });
      throw err;
    }
  }

  private async finalize(obj: KubeObject): Promise<number | undefined> {
    const uid = obj.metadata.uid ?? '';
    if (!hasFinalizer(obj)) {
      this.forget(uid);
      return undefined;
    }
    const token = 'delete';
    const gate = this.gate(obj, token);
    if (gate !== 'go') return gate;
    for (const handler of this.deps.operator.handlersFor('delete')) {
      if (!passesFilters(handler.options, obj)) continue;
      try {
        const result = await this.attempt(handler, obj, 'delete', {});
        await this.deps.events(obj, { type: 'Normal', reason: 'Deleted', message: `${handler.id} succeeded${messageOf(result) ? `: ${messageOf(result)}` : ''}` });
      } catch (err) {
        return this.fail(obj, token, err, handler);
      }
    }
    await removeFinalizer(this.deps.api, this.deps.operator.resource, obj);
    this.log(obj).info({ cause: 'delete' }, 'delete succeeded, finalizer removed');
    this.forget(uid);
    return undefined;
  }

  /** The retry state for this token: from memory, else from the object (a restart keeps its backoff). */
  private progressFor(obj: KubeObject, token: string): Progress | undefined {
    const uid = obj.metadata.uid ?? '';
    const digest = tokenDigest(token);
    const known = this.retries.get(uid) ?? readProgress(obj);
    if (!known || known.token !== digest) return undefined;
    this.retries.set(uid, known);
    return known;
  }

  /** 'go', or how long to wait: a failed state is retried only after its delay, a permanent one never. */
  private gate(obj: KubeObject, token: string): 'go' | number | undefined {
    const state = this.progressFor(obj, token);
    if (!state) return 'go';
    if (state.permanent) return undefined;
    const wait = state.notBefore - this.deps.now();
    return wait > 0 ? wait : 'go';
  }

  private async fail(obj: KubeObject, token: string, error: unknown, handler?: RegisteredHandler): Promise<number | undefined> {
    const uid = obj.metadata.uid ?? '';
    const state: Progress = this.progressFor(obj, token) ?? { token: tokenDigest(token), attempt: 0, notBefore: 0, permanent: false };
    let err = error;
    const limit = handler?.options.retries;
    if (limit !== undefined && !(err instanceof PermanentError) && state.attempt >= limit) {
      err = new PermanentError(`gave up after ${limit} retries: ${err instanceof Error ? err.message : String(err)}`, 'RetriesExhausted');
    }
    const reason = reasonOf(err);
    const message = `${handler ? `${handler.id}: ` : ''}${err instanceof Error ? err.message : String(err)}`;
    let delay: number | undefined;
    if (err instanceof PermanentError) {
      state.permanent = true;
    } else if (err instanceof TemporaryError) {
      delay = err.delayMs;
    } else {
      delay = backoffDelay(state.attempt, this.deps.backoff);
      state.attempt++;
    }
    state.notBefore = this.deps.now() + (delay ?? 0);
    this.retries.set(uid, state);
    const conditions = readyConditions(false, reason, message, delay === undefined ? 'stalled' : 'retrying');
    await this.deps.status.write(obj, { conditions, extra: progressStatus(state) });
    await this.deps.events(obj, { type: 'Warning', reason, message });
    this.log(obj).warn({ reason, handler: handler?.id, retryInMs: delay, attempt: state.attempt }, message);
    return delay;
  }

  /** Runs the timers that are due; returns the ms until the next one is. */
  private async runTimers(obj: KubeObject): Promise<number> {
    const uid = obj.metadata.uid ?? '';
    const lastRuns = this.timerRuns.get(uid) ?? new Map<string, number>();
    this.timerRuns.set(uid, lastRuns);
    let next = Infinity;
    for (const timer of this.deps.operator.timers) {
      const interval = typeof timer.intervalMs === 'function' ? timer.intervalMs(obj) : timer.intervalMs;
      const due = (lastRuns.get(timer.id) ?? -Infinity) + interval - this.deps.now();
      if (due > 0) {
        next = Math.min(next, due);
        continue;
      }
      lastRuns.set(timer.id, this.deps.now());
      next = Math.min(next, interval);
      try {
        const result = await timer.fn(this.context(obj, 'timer', {}, this.deps.signal));
        // Written only when it changed: every status write is a watch event, and events must not feed a loop.
        if (result && typeof result === 'object' && JSON.stringify(obj.status?.[timer.id]) !== JSON.stringify(result)) {
          obj = (await this.deps.status.write(obj, { results: { [timer.id]: result } })) ?? obj;
        }
      } catch (err) {
        this.log(obj).warn({ err, timer: timer.id, retryInMs: interval }, `timer ${timer.id} failed`);
      }
    }
    return next;
  }

  private context(obj: KubeObject, cause: Cause, extra: Partial<HandlerContext>, signal: AbortSignal): HandlerContext {
    const { kubectl, basesDir, keepWorkdirs } = this.deps;
    const retry = this.retries.get(obj.metadata.uid ?? '')?.attempt ?? 0;
    const owner = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name: obj.metadata.name,
      namespace: obj.metadata.namespace ?? 'default',
      uid: obj.metadata.uid,
    };
    const runIn = async (spec: KustomizeSpec, op: 'apply' | 'delete'): Promise<KubectlResult> => {
      let workdir;
      try {
        workdir = await createWorkdir(spec, owner, { basesDir, keep: keepWorkdirs });
      } catch (err) {
        throw new BuildError((err as Error).message);
      }
      try {
        const result =
          op === 'apply'
            ? await applyKustomization(kubectl, workdir.dir, { signal, prune: { selector: ownerSelector(owner), allowlist: spec.prune ?? [] } })
            : await deleteKustomization(kubectl, workdir.dir, { signal });
        if (result.exitCode !== 0) throw new KubectlError(op === 'apply' ? 'ApplyFailed' : 'DeleteFailed', result);
        return result;
      } finally {
        await workdir.cleanup();
      }
    };
    return {
      cause,
      body: obj,
      spec: (obj.spec ?? {}) as Record<string, unknown>,
      name: obj.metadata.name,
      namespace: obj.metadata.namespace ?? 'default',
      retry,
      logger: this.log(obj),
      kubectl,
      api: this.deps.api,
      adopt: (child) => adopt(obj, child),
      kustomize: {
        apply: (spec) => runIn(spec, 'apply'),
        delete: (spec) => runIn(spec, 'delete'),
      },
      signal,
      ...extra,
    };
  }

  private log(obj: KubeObject): Logger {
    return this.deps.logger.child({ namespace: obj.metadata.namespace, name: obj.metadata.name });
  }
}

function pastTense(cause: Cause): string {
  return { create: 'Created', update: 'Updated', delete: 'Deleted', resume: 'Resumed', timer: 'Timer' }[cause];
}

/** A handler result's `message`, when it has one. */
function messageOf(result: unknown): string {
  return result && typeof result === 'object' && typeof (result as { message?: unknown }).message === 'string' ? (result as { message: string }).message : '';
}

/** Each handler's `message`, for the Ready condition. */
function summary(results: Record<string, unknown>): string {
  return Object.values(results).map(messageOf).filter(Boolean).join('\n');
}

/** Ready, plus Reconciling and Stalled as Flux uses them (kstatus conventions). */
export function readyConditions(ok: boolean, reason: string, message: string, mode: 'stalled' | 'retrying' = 'retrying'): Condition[] {
  if (ok) {
    return [
      { type: 'Ready', status: 'True', reason, message },
      { type: 'Reconciling', status: 'False', reason, message: '' },
      { type: 'Stalled', status: 'False', reason, message: '' },
    ];
  }
  return [
    { type: 'Ready', status: 'False', reason, message },
    { type: 'Reconciling', status: mode === 'retrying' ? 'True' : 'False', reason: mode === 'retrying' ? 'RetryScheduled' : reason, message: '' },
    { type: 'Stalled', status: mode === 'stalled' ? 'True' : 'False', reason, message: mode === 'stalled' ? message : '' },
  ];
}
