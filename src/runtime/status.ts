// Why: the one place that writes status: handler results, conditions and observedGeneration, through /status.
import { ApiError, patchContentType, resourcePath, type Api, type KubeObject, type ResourceRef } from '../kube/api.ts';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export interface StatusUpdate {
  /** Handler results, stored at status.<handler_id> as kopf does. */
  results?: Record<string, unknown>;
  conditions?: Condition[];
  /** Other status fields, merged as they are (null removes a field). */
  extra?: Record<string, unknown>;
}

/** Strings kept in status are cut here, so objects stay far below etcd's 1.5 MiB request limit. */
export const MAX_STATUS_STRING = 8 * 1024;
export const TRUNCATION_MARKER = '\n… [truncated by kustomate]';

export function truncate(text: string, max = MAX_STATUS_STRING): string {
  return text.length <= max ? text : text.slice(0, max - TRUNCATION_MARKER.length) + TRUNCATION_MARKER;
}

function truncateDeep(value: unknown): unknown {
  if (typeof value === 'string') return truncate(value);
  if (Array.isArray(value)) return value.map(truncateDeep);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, truncateDeep(v)]));
  return value;
}

/** Conditions merged by type; lastTransitionTime changes only when the status does (API conventions). */
export function mergeConditions(existing: Condition[], updates: Condition[], now: string, generation?: number): Condition[] {
  const out = existing.map((c) => ({ ...c }));
  for (const u of updates) {
    const i = out.findIndex((c) => c.type === u.type);
    const prev = i >= 0 ? out[i] : undefined;
    const next: Condition = {
      ...u,
      message: truncate(u.message),
      lastTransitionTime: prev && prev.status === u.status && prev.lastTransitionTime ? prev.lastTransitionTime : now,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    if (i >= 0) out[i] = next;
    else out.push(next);
  }
  return out;
}

export class StatusWriter {
  private readonly api: Api;
  private readonly ref: ResourceRef;
  private readonly now: () => Date;
  constructor(api: Api, ref: ResourceRef, now: () => Date = () => new Date()) {
    this.api = api;
    this.ref = ref;
    this.now = now;
  }

  /**
   * Merges `update` into the object's status via the /status subresource. Conditions are a list, which a merge
   * patch replaces whole, so the list is rebuilt from the freshest object; a 409 refetches and tries again.
   * Returns the updated object, or undefined when the object is gone.
   */
  async write(obj: KubeObject, update: StatusUpdate): Promise<KubeObject | undefined> {
    const { namespace, name } = obj.metadata;
    const path = resourcePath(this.ref, namespace, name, 'status');
    let current = obj;
    for (let attempt = 0; ; attempt++) {
      const status: Record<string, unknown> = { ...(truncateDeep(update.results ?? {}) as Record<string, unknown>), ...update.extra };
      if (update.conditions) {
        const existing = (current.status?.conditions as Condition[] | undefined) ?? [];
        status.conditions = mergeConditions(existing, update.conditions, this.now().toISOString(), current.metadata.generation);
        status.observedGeneration = current.metadata.generation;
      }
      try {
        return await this.api.request<KubeObject>('PATCH', path, {
          body: { metadata: { resourceVersion: current.metadata.resourceVersion }, status },
          contentType: patchContentType('merge'),
        });
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return undefined;
        if (!(err instanceof ApiError && err.status === 409) || attempt >= 5) throw err;
        current = await this.api.request<KubeObject>('GET', resourcePath(this.ref, namespace, name));
      }
    }
  }
}
