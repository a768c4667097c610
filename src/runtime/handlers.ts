// Why: which handlers apply to an object (filters, field changes), and running one attempt within its time limit.
import type { KubeObject } from '../kube/api.ts';
import { diff, type DiffEntry, type Essence } from './essence.ts';
import type { HandlerContext, HandlerOptions, HandlerResult, RegisteredHandler } from './operator.ts';

function matchesMap(actual: Record<string, string> | undefined, wanted: Record<string, string | boolean> | undefined): boolean {
  for (const [key, want] of Object.entries(wanted ?? {})) {
    const have = actual?.[key];
    if (want === true ? have === undefined : want === false ? have !== undefined : have !== want) return false;
  }
  return true;
}

/** Label, annotation and predicate filters of a handler, against the current object. */
export function passesFilters(options: HandlerOptions, obj: KubeObject): boolean {
  return (
    matchesMap(obj.metadata.labels, options.labels) &&
    matchesMap(obj.metadata.annotations, options.annotations) &&
    (options.when ? options.when(obj) : true)
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

export class HandlerTimeoutError extends Error {
  override name = 'HandlerTimeoutError';
}

/**
 * Runs one attempt. With `timeoutMs`, the attempt's signal aborts (killing its kubectl runs) and the attempt fails
 * with HandlerTimeoutError when the time is up, even if the handler ignores the signal.
 */
export async function runAttempt(handler: RegisteredHandler, makeCtx: (signal: AbortSignal) => HandlerContext, parent: AbortSignal): Promise<HandlerResult> {
  const { timeoutMs } = handler.options;
  if (!timeoutMs) return handler.fn(makeCtx(parent));
  const ctrl = new AbortController();
  const onParent = () => ctrl.abort();
  parent.addEventListener('abort', onParent, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ctrl.abort();
      reject(new HandlerTimeoutError(`handler ${handler.id} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve(handler.fn(makeCtx(ctrl.signal))), timedOut]);
  } finally {
    clearTimeout(timer);
    parent.removeEventListener('abort', onParent);
  }
}
