// Why: the lifecycle: decide create/update/delete/resume from the object itself, run handlers, record the outcome.
import type { Logger } from 'pino';
import { patchContentType, resourcePath, type Api, type KubeObject } from '../kube/api.ts';
import { applyKustomization, deleteKustomization } from '../kubectl/kustomize.ts';
import type { KubectlResult, KubectlRunner } from '../kubectl/runner.ts';
import { createWorkdir, type KustomizeSpec } from '../kustomize/workdir.ts';
import { ownerSelector } from '../kustomize/labels.ts';
import { adopt } from './adopt.ts';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffPolicy } from './backoff.ts';
import { BuildError, KubectlError, PermanentError, TemporaryError, reasonOf } from './errors.ts';
import { LAST_HANDLED_ANNOTATION, diff, encodeEssence, essenceOf, lastHandled } from './essence.ts';
import type { EventRecorder } from './events.ts';
import { addFinalizer, hasFinalizer, removeFinalizer } from './finalizer.ts';
import type { Cause, HandlerContext, Operator } from './operator.ts';
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
}

interface RetryState {
  /** What failed: the cause and the essence it failed for. A change of either starts afresh. */
  token: string;
  attempt: number;
  notBefore: number;
  permanent: boolean;
}

/** Reconciles one object at a time (the queue guarantees that); returns a delay when it wants to run again. */
export class Reactor {
  private readonly deps: Required<Omit<ReactorDeps, 'signal'>> & { signal: AbortSignal };
  private readonly retries = new Map<string, RetryState>();
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

  /** create/update/resume as the object calls for; `handled` means it is in a handled, non-failing state. */
  private async lifecycle(obj: KubeObject): Promise<{ handled: boolean; object: KubeObject; delay?: number | undefined }> {
    const { operator } = this.deps;
    const uid = obj.metadata.uid ?? '';
    const encoded = encodeEssence(essenceOf(obj));

    // Validation at the edge: a bad object is reported once, and waits for a change (no retry loop).
    const problems = operator.problems(obj);
    if (problems.length > 0) {
      const token = `invalid:${encoded}`;
      if (this.retries.get(uid)?.token === token) return { handled: false, object: obj };
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
    const gate = this.gate(uid, token);
    if (gate !== 'go') return { handled: false, object: current, delay: gate };

    const ctxExtra =
      cause === 'update' ? { old: last?.essence, new: essenceOf(current), diff: diff(last?.essence, essenceOf(current)) } : {};
    const results: Record<string, unknown> = {};
    for (const handler of operator.handlersFor(cause)) {
      try {
        const result = await handler.fn(this.context(current, cause, ctxExtra));
        if (result && typeof result === 'object') results[handler.id] = result;
      } catch (err) {
        return { handled: false, object: current, delay: await this.fail(current, token, err, handler.id) };
      }
    }

    // Record what was handled before the status, so a status event never looks like an unhandled change.
    const annotated = await this.deps.api.request<KubeObject>(
      'PATCH',
      resourcePath(operator.resource, current.metadata.namespace, current.metadata.name),
      { body: { metadata: { annotations: { [LAST_HANDLED_ANNOTATION]: encoded } } }, contentType: patchContentType('merge') },
    );
    this.handledHere.set(uid, encoded);
    this.retries.delete(uid);
    const message = summary(results) || `${cause} handled`;
    const written = await this.deps.status.write(annotated, { results, conditions: readyConditions(true, 'Succeeded', message) });
    await this.deps.events(annotated, { type: 'Normal', reason: pastTense(cause), message });
    this.log(current).info({ cause }, `${cause} succeeded`);
    return { handled: true, object: written ?? annotated };
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
        const result = await timer.fn(this.context(obj, 'timer', {}));
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

  private async finalize(obj: KubeObject): Promise<number | undefined> {
    const uid = obj.metadata.uid ?? '';
    if (!hasFinalizer(obj)) {
      this.forget(uid);
      return undefined;
    }
    const token = 'delete';
    const gate = this.gate(uid, token);
    if (gate !== 'go') return gate;
    for (const handler of this.deps.operator.handlersFor('delete')) {
      try {
        await handler.fn(this.context(obj, 'delete', {}));
      } catch (err) {
        return this.fail(obj, token, err, handler.id);
      }
    }
    await this.deps.events(obj, { type: 'Normal', reason: 'Deleted', message: 'delete handlers finished; removing the finalizer' });
    await removeFinalizer(this.deps.api, this.deps.operator.resource, obj);
    this.log(obj).info({ cause: 'delete' }, 'delete succeeded, finalizer removed');
    this.forget(uid);
    return undefined;
  }

  /** 'go', or how long to wait: a failed state is retried only after its delay, a permanent one never. */
  private gate(uid: string, token: string): 'go' | number | undefined {
    const state = this.retries.get(uid);
    if (!state || state.token !== token) return 'go';
    if (state.permanent) return undefined;
    const wait = state.notBefore - this.deps.now();
    return wait > 0 ? wait : 'go';
  }

  private async fail(obj: KubeObject, token: string, err: unknown, handlerId?: string): Promise<number | undefined> {
    const uid = obj.metadata.uid ?? '';
    const previous = this.retries.get(uid);
    const state: RetryState =
      previous && previous.token === token ? previous : { token, attempt: 0, notBefore: 0, permanent: false };
    const reason = reasonOf(err);
    const message = `${handlerId ? `${handlerId}: ` : ''}${err instanceof Error ? err.message : String(err)}`;
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
    await this.deps.status.write(obj, { conditions });
    await this.deps.events(obj, { type: 'Warning', reason, message });
    this.log(obj).warn({ reason, handler: handlerId, retryInMs: delay, attempt: state.attempt }, message);
    return delay;
  }

  private context(obj: KubeObject, cause: Cause, extra: Partial<HandlerContext>): HandlerContext {
    const { kubectl, basesDir, keepWorkdirs, signal } = this.deps;
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

/** First line of each handler's `message`, for the Ready condition and the Event. */
function summary(results: Record<string, unknown>): string {
  return Object.values(results)
    .map((r) => (r && typeof r === 'object' && typeof (r as { message?: unknown }).message === 'string' ? (r as { message: string }).message : ''))
    .filter(Boolean)
    .join('\n');
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
