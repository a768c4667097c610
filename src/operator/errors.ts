// Why: errors say how they retry: temporary after a delay, permanent never (until the object changes), anything else
// with backoff. The reconciler reads them; handlers throw them.
import { KubectlError } from '../kubectl/runner.ts';
import { BuildError } from '../kustomize/workdir.ts';

export { KubectlError, BuildError };

/**
 * Retry after `delayMs`, without growing the backoff; with no `delayMs`, after the growing backoff of any error
 * (1 s, 2 s, 4 s … 5 min). Either way `reason` becomes the Ready condition's reason.
 */
export class TemporaryError extends Error {
  override name = 'TemporaryError';
  readonly delayMs: number | undefined;
  readonly reason: string;
  constructor(message: string, delayMs?: number, reason = 'TemporaryError') {
    super(message);
    this.delayMs = delayMs;
    this.reason = reason;
  }
}

/**
 * Not a failure: the step waits for something outside it (a Job to finish). The object shows Ready=False with
 * `reason` and Reconciling=True; one Normal Event says the wait began; the step runs again after `delayMs`, or
 * sooner when a child's event wakes the object. No backoff grows and no retry is counted.
 */
export class WaitingError extends Error {
  override name = 'WaitingError';
  readonly delayMs: number;
  readonly reason: string;
  constructor(message: string, delayMs: number, reason = 'Waiting') {
    super(message);
    this.delayMs = delayMs;
    this.reason = reason;
  }
}

/** Do not retry until the object changes; `reason` becomes the Ready condition's reason. */
export class PermanentError extends Error {
  override name = 'PermanentError';
  readonly reason: string;
  constructor(message: string, reason = 'PermanentError') {
    super(message);
    this.reason = reason;
  }
}

/** An attempt ran past its `timeoutMs`: its signal was aborted, and it counts as a failure once it has ended. */
export class HandlerTimeoutError extends Error {
  override name = 'HandlerTimeoutError';
  readonly reason = 'TimedOut';
}

/** A step of kustomate's own failed (a prune, a delete from the inventory); retried with backoff. */
export class StepError extends Error {
  override name = 'StepError';
  readonly reason: string;
  constructor(message: string, reason: string) {
    super(message);
    this.reason = reason;
  }
}

// Errors are told apart by name, not by class: an operator module may import its own copy of kustomate.
const REASONED = new Set(['TemporaryError', 'PermanentError', 'WaitingError', 'KubectlError', 'BuildError', 'HandlerTimeoutError', 'StepError']);

function named(err: unknown, name: string): boolean {
  return err instanceof Error && err.name === name;
}

/** Do not retry until the object changes. */
export function isPermanent(err: unknown): err is PermanentError {
  return named(err, 'PermanentError');
}

/** The step waits for something else: not a failure. */
export function isWaiting(err: unknown): err is WaitingError {
  return named(err, 'WaitingError');
}

/** Retry after the delay it carries, if it carries one. */
export function isTemporary(err: unknown): err is TemporaryError {
  return named(err, 'TemporaryError');
}

/** The Ready=False reason for an error a step raised: the reason kustomate's own errors carry, else HandlerFailed. */
export function reasonOf(err: unknown): string {
  const reason = (err as { reason?: unknown } | undefined)?.reason;
  return err instanceof Error && REASONED.has(err.name) && typeof reason === 'string' && reason !== '' ? reason : 'HandlerFailed';
}
