// Why: the retry state of a failing handler lives on the object (status.kustomate.progress), as kopf keeps its
// progress, so a restarted operator neither forgets a backoff nor retries a permanent failure (issue #4).
import { createHash } from 'node:crypto';
import type { KubeObject } from '../kube/api.ts';

export interface Progress {
  /** A digest of what failed: the cause and the essence it failed for. */
  token: string;
  /** Failures so far for this token. */
  attempt: number;
  /** Epoch ms before which no new attempt is made. */
  notBefore: number;
  /** No attempt until the object changes. */
  permanent: boolean;
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
  };
}

/** The status fragment that stores (or, with null, clears) the progress; merged by a JSON merge patch. */
export function progressStatus(progress: Progress | null): Record<string, unknown> {
  if (!progress) return { kustomate: { progress: null } };
  return { kustomate: { progress: { ...progress, notBefore: new Date(progress.notBefore).toISOString() } } };
}
