// Why: errors say how they retry (DESIGN.md): temporary after a delay, permanent never, anything else with backoff.
import type { KubectlResult } from '../kubectl/runner.ts';

/** Retry after `delayMs`, without counting towards backoff growth. */
export class TemporaryError extends Error {
  override name = 'TemporaryError';
  readonly delayMs: number;
  constructor(message: string, delayMs = 10_000) {
    super(message);
    this.delayMs = delayMs;
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

/** A kubectl run that exited non-zero: never a success; retried with backoff. */
export class KubectlError extends Error {
  override name = 'KubectlError';
  readonly result: KubectlResult;
  readonly reason: string;
  constructor(reason: string, result: KubectlResult) {
    super(`${result.command.slice(1).join(' ')} exited ${result.exitCode}: ${result.stderr || result.stdout}`.trim());
    this.result = result;
    this.reason = reason;
  }
}

/** The Ready=False reason for any error a handler raised. */
export function reasonOf(err: unknown): string {
  if (err instanceof PermanentError || err instanceof KubectlError || err instanceof BuildError) return err.reason;
  if (err instanceof TemporaryError) return 'TemporaryError';
  return 'HandlerFailed';
}

/** The work dir could not be built (missing base, bad file name): retried with backoff, as the base may be fixed. */
export class BuildError extends Error {
  override name = 'BuildError';
  readonly reason = 'BuildFailed';
}
