// Why: Ready, Reconciling and Stalled as kstatus and Flux use them, computed from one verdict per reconcile
// (https://github.com/kubernetes-sigs/cli-utils/blob/master/pkg/kstatus/README.md).
import { scrub } from '../kubectl/scrub.ts';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

/**
 * What a reconcile concluded. `retry`: it failed and will try again; `stall`: it failed and waits for the object
 * to change; `progress`: it did its part and waits for something else (children becoming healthy, a Job).
 */
export type Verdict =
  | { ready: true; reason: string; message: string }
  | { ready: false; reason: string; message: string; next: 'retry' | 'stall' | 'progress' };

/** Strings kept in status are cut here, so objects stay far below etcd's 1.5 MiB request limit. */
export const MAX_STATUS_STRING = 8 * 1024;
export const TRUNCATION_MARKER = '\n… [truncated by kustomate]';

export function truncate(text: string, max = MAX_STATUS_STRING): string {
  return text.length <= max ? text : text.slice(0, max - TRUNCATION_MARKER.length) + TRUNCATION_MARKER;
}

/** The three conditions for a verdict. */
export function conditionsFor(v: Verdict): Condition[] {
  if (v.ready) {
    return [
      { type: 'Ready', status: 'True', reason: v.reason, message: v.message },
      { type: 'Reconciling', status: 'False', reason: v.reason, message: '' },
      { type: 'Stalled', status: 'False', reason: v.reason, message: '' },
    ];
  }
  const reconciling = v.next !== 'stall';
  return [
    { type: 'Ready', status: 'False', reason: v.reason, message: v.message },
    {
      type: 'Reconciling',
      status: reconciling ? 'True' : 'False',
      reason: v.next === 'retry' ? 'ProgressingWithRetry' : v.next === 'progress' ? 'Progressing' : v.reason,
      message: v.next === 'progress' ? v.message : '',
    },
    { type: 'Stalled', status: v.next === 'stall' ? 'True' : 'False', reason: v.reason, message: v.next === 'stall' ? v.message : '' },
  ];
}

/** Conditions merged by type; lastTransitionTime changes only when the status does (API conventions). */
export function mergeConditions(existing: Condition[], updates: Condition[], now: string, generation?: number): Condition[] {
  const out = existing.map((c) => ({ ...c }));
  for (const u of updates) {
    const i = out.findIndex((c) => c.type === u.type);
    const prev = i >= 0 ? out[i] : undefined;
    const next: Condition = {
      ...u,
      message: truncate(scrub(u.message)),
      lastTransitionTime: prev && prev.status === u.status && prev.lastTransitionTime ? prev.lastTransitionTime : now,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    if (i >= 0) out[i] = next;
    else out.push(next);
  }
  return out;
}

export function findCondition(status: Record<string, unknown> | undefined, type: string): Condition | undefined {
  return (status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);
}
