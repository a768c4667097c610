// Why: the retry state of a failing object lives on the object (status.kustomate.progress), as kopf keeps its
// progress, so a restarted operator neither forgets a backoff nor retries a permanent failure.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../kube/api.ts';

export interface Progress {
  /** A digest of what failed: the desired state (or `delete`) the failure belongs to. */
  token: string;
  /** Failures so far for this token. */
  attempt: number;
  /** Epoch ms before which no new attempt is made. */
  notBefore: number;
  /** No attempt until the object changes. */
  permanent: boolean;
  /** What the failed attempt was doing (create, update, resume, repair, delete), so a retry does the same. */
  cause?: string | undefined;
}

export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

export function readProgress(obj: KubeObject): Progress | undefined {
  const raw = (obj.status?.kustomate as { progress?: Record<string, unknown> } | undefined)?.progress;
  if (!raw || typeof raw.token !== 'string') return undefined;
  const notBefore = Date.parse(String(raw.notBefore ?? ''));
  return {
    token: raw.token,
    attempt: Number(raw.attempt) || 0,
    notBefore: Number.isNaN(notBefore) ? 0 : notBefore,
    permanent: raw.permanent === true,
    cause: typeof raw.cause === 'string' ? raw.cause : undefined,
  };
}

/** The latest instant a Date can hold; a longer delay is cut to it. */
const MAX_DATE_MS = 8.64e15;

/** The progress as stored, or null to clear it (a JSON merge patch removes a null field). */
export function progressField(progress: Progress | null): Record<string, unknown> | null {
  if (!progress) return null;
  const { cause, ...rest } = progress;
  return { ...rest, ...(cause ? { cause } : {}), notBefore: new Date(Math.min(progress.notBefore, MAX_DATE_MS)).toISOString() };
}

/** When the progress for `token` lets the next attempt start: 'now', after `ms`, or 'never' (permanent). */
export function gate(progress: Progress | undefined, token: string, now: number): { wait: 'now' } | { wait: 'never' } | { wait: number } {
  if (!progress || progress.token !== tokenDigest(token)) return { wait: 'now' };
  if (progress.permanent) return { wait: 'never' };
  const ms = progress.notBefore - now;
  return ms > 0 ? { wait: ms } : { wait: 'now' };
}
