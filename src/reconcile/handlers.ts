// Why: which handlers apply to an object (filters, field changes), and one attempt of a step within its time limit.
import type { KubeObject } from '../kube/api.ts';
import { HandlerTimeoutError } from '../operator/errors.ts';
import type { DiffEntry, Essence, HandlerOptions } from '../operator/operator.ts';
import { diff } from './essence.ts';

function matchesMap(actual: Record<string, string> | undefined, wanted: Record<string, string | boolean> | undefined): boolean {
  for (const [key, want] of Object.entries(wanted ?? {})) {
    const have = actual?.[key];
    if (want === true ? have === undefined : want === false ? have !== undefined : have !== want) return false;
  }
  return true;
}

/** Label, annotation and predicate filters of a handler, against the current object. */
export function passesFilters(options: HandlerOptions<any>, obj: KubeObject): boolean {
  return (
    matchesMap(obj.metadata.labels, options.labels) &&
    matchesMap(obj.metadata.annotations, options.annotations) &&
    (options.when ? options.when(obj as never) : true)
  );
}

function valueAt(essence: Essence | undefined, path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), essence);
}

/** A field handler's view of a change: its field's old and new values and the diff under it, or undefined if unchanged. */
export function fieldChange(field: string[], old: Essence | undefined, now: Essence): { old: unknown; new: unknown; diff: DiffEntry[] } | undefined {
  const before = valueAt(old, field);
  const after = valueAt(now, field);
  const changes = diff(before, after, field);
  return changes.length ? { old: before, new: after, diff: changes } : undefined;
}

export interface AttemptOptions {
  id: string;
  timeoutMs?: number | undefined;
  /** Shutdown or a lost lease: aborts the attempt's signal too. */
  parent: AbortSignal;
  /** Told when a timed-out attempt is still running this long after its signal was aborted. */
  onLingering?: (ms: number) => void;
  lingerReportMs?: number;
}

/**
 * Runs one attempt and returns only once it has ended, so two attempts for one object never overlap. With
 * `timeoutMs`, the attempt's signal aborts when the time is up (killing its kubectl runs), and the attempt fails
 * with HandlerTimeoutError as soon as it returns, whatever it returned.
 */
export async function runAttempt<T>(fn: (signal: AbortSignal) => T | Promise<T>, opts: AttemptOptions): Promise<T> {
  // Cancelled already (a lost lease, the end of a grace period): the attempt does not start.
  if (opts.parent.aborted) throw new Error(`${opts.id}: cancelled before it started`);
  const ctrl = new AbortController();
  const onParent = () => ctrl.abort(opts.parent.reason);
  opts.parent.addEventListener('abort', onParent, { once: true });
  let timedOut = false;
  let lingering: ReturnType<typeof setInterval> | undefined;
  const deadline = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        ctrl.abort(new HandlerTimeoutError(`handler ${opts.id} timed out after ${opts.timeoutMs} ms`));
        const started = Date.now();
        const every = opts.lingerReportMs ?? 10_000;
        lingering = setInterval(() => opts.onLingering?.(Date.now() - started), every);
        lingering.unref?.();
      }, opts.timeoutMs)
    : undefined;
  const expired = () => new HandlerTimeoutError(`handler ${opts.id} timed out after ${opts.timeoutMs} ms`);
  try {
    const result = await fn(ctrl.signal);
    if (timedOut) throw expired();
    return result;
  } catch (err) {
    throw timedOut ? expired() : err;
  } finally {
    clearTimeout(deadline);
    clearInterval(lingering);
    opts.parent.removeEventListener('abort', onParent);
  }
}
