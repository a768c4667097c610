// Why: the one place that writes status. A reconcile computes one Report; this turns it into one /status patch.
import { ApiError, patchContentType, resourcePath, type Api, type KubeObject, type ResourceRef } from '../kube/api.ts';
import { scrub } from '../kubectl/scrub.ts';
import { conditionsFor, mergeConditions, truncate, type Condition, type Verdict } from './conditions.ts';
import type { EventInfo } from './events.ts';
import type { Inventory } from './inventory.ts';
import { sameJson } from './json.ts';
import { progressField, type Progress } from './progress.ts';

/** Everything one reconcile concluded, written once at its end. */
export interface Report {
  /** The generation this reconcile loaded and built: what observedGeneration may claim, never a later one. */
  generation: number | undefined;
  /** The conditions' verdict; undefined leaves them as they are (a timer-only run). */
  verdict: Verdict | undefined;
  /** Step results, stored at status.<id> as kopf does. */
  results: Record<string, unknown>;
  /** The essence now handled, committed in the same write as the Ready it explains. */
  lastHandled?: string;
  /** The retry state: a failure's, or null to clear it; undefined leaves it. */
  progress?: Progress | null;
  /** The children of each kustomize spec; undefined leaves the recorded inventory as it is. */
  inventory?: Inventory;
  /** Since when children have been unhealthy (ISO time), or null once they are healthy. */
  progressingSince?: string | null;
  /** Conditions beside Ready, Reconciling and Stalled (Drifted). */
  extraConditions?: Condition[];
  /** Posted after the status is written. */
  events: EventInfo[];
}

/** Every string cut to size and scrubbed of Secret values (a result may quote kubectl's output). */
function truncateDeep(value: unknown): unknown {
  if (typeof value === 'string') return truncate(scrub(value));
  if (Array.isArray(value)) return value.map(truncateDeep);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, truncateDeep(v)]));
  return value;
}

/** The status merge patch for a report against the object's current status. */
export function statusPatch(current: KubeObject, report: Report, now: string): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...(truncateDeep(report.results) as Record<string, unknown>) };
  if (report.verdict || report.extraConditions?.length) {
    const existing = (current.status?.conditions as Condition[] | undefined) ?? [];
    const updates = [...(report.verdict ? conditionsFor(report.verdict) : []), ...(report.extraConditions ?? [])];
    patch.conditions = mergeConditions(existing, updates, now, report.generation);
    if (report.verdict) patch.observedGeneration = report.generation;
  }
  if (report.inventory) {
    // A merge patch replaces each list whole; a spec id no longer in the inventory is removed with null.
    const before = Object.keys((current.status?.inventory as Record<string, unknown> | undefined) ?? {});
    patch.inventory = { ...Object.fromEntries(before.map((id) => [id, null])), ...report.inventory };
  }
  const kustomate: Record<string, unknown> = {};
  if (report.lastHandled !== undefined) kustomate.lastHandled = report.lastHandled;
  if (report.progress !== undefined) kustomate.progress = progressField(report.progress);
  if (report.progressingSince !== undefined) kustomate.progressingSince = report.progressingSince;
  if (Object.keys(kustomate).length) patch.kustomate = kustomate;
  return patch;
}

/** Whether a JSON merge patch would leave `target` as it is (null removes a field). */
export function mergeIsNoop(target: unknown, patch: unknown): boolean {
  if (patch === null) return target === undefined || target === null;
  if (typeof patch !== 'object' || Array.isArray(patch)) return sameJson(target, patch);
  if (!target || typeof target !== 'object' || Array.isArray(target)) return false;
  return Object.entries(patch as Record<string, unknown>).every(([k, v]) => mergeIsNoop((target as Record<string, unknown>)[k], v));
}

/**
 * Writes a report through the /status subresource, unless it changes nothing. Conditions are a list, which a
 * merge patch replaces whole, so the patch carries the resourceVersion it was computed from: a concurrent write
 * yields 409, and the patch is computed again on the fresh object (the report, and its generation, stay).
 * Returns the object (`wrote`: as this write left it; otherwise unchanged, as last read), or undefined when the
 * object is gone (or replaced by a namesake).
 */
export async function writeReport(api: Api, ref: ResourceRef, obj: KubeObject, report: Report, signal?: AbortSignal, now: () => Date = () => new Date()): Promise<{ object: KubeObject; wrote: boolean } | undefined> {
  const { namespace, name, uid } = obj.metadata;
  let current = obj;
  for (let attempt = 0; ; attempt++) {
    // metav1.Time: RFC 3339 in whole seconds.
    const status = statusPatch(current, report, now().toISOString().replace(/\.\d+Z$/, 'Z'));
    if (mergeIsNoop(current.status, status)) return { object: current, wrote: false };
    try {
      // uid too: a namesake created since must never get this object's status.
      const object = await api.request<KubeObject>('PATCH', resourcePath(ref, namespace, name, 'status'), {
        body: { metadata: { uid, resourceVersion: current.metadata.resourceVersion }, status },
        contentType: patchContentType('merge'),
        signal,
      });
      return { object, wrote: true };
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      if (!(err instanceof ApiError && err.status === 409) || attempt >= 5) throw err;
      try {
        current = await api.request<KubeObject>('GET', resourcePath(ref, namespace, name), { signal });
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return undefined;
        throw e;
      }
      if (current.metadata.uid !== uid) return undefined;
    }
  }
}
