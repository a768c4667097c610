// Why: a finalizer makes delete steps (`delete -k`, delete handlers) finish before the object goes away
// (https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/).
//
// Guarantees:
// - Delete steps run, to success, before the object can disappear: the API server keeps an object with a
//   finalizer, only marking it with deletionTimestamp, until every finalizer is removed.
// - Only kustomate's own entry is ever added or removed; both patches are guarded (resourceVersion, or a JSON
//   patch `test`), so another controller's finalizer is never lost.
// - The finalizer is added before the first apply, so nothing is created that a deletion could miss.
// Caveats:
// - While the operator is not running, or a delete step keeps failing, the object stays Terminating, and so does a
//   namespace holding it. Removing the finalizer by hand lets it go without the delete steps (children carrying
//   an ownerReference are still garbage-collected).
// - Delete steps may run more than once (a crash between a step and the finalizer's removal): they must be idempotent.
import { ApiError, patchContentType, resourcePath, type Api, type KubeObject, type ResourceRef } from '../kube/api.ts';

export const FINALIZER = 'kustomate.io/finalizer';

export function hasFinalizer(obj: KubeObject): boolean {
  return (obj.metadata.finalizers ?? []).includes(FINALIZER);
}

const MAX_ATTEMPTS = 5;

/**
 * Adds our finalizer with a merge patch that carries uid and resourceVersion as preconditions. Returns the patched
 * object, or undefined when the object changed (409) or went (404) since it was read: the caller loads it again,
 * rather than acting on a newer spec it has not validated. Never called during deletion (the API server forbids
 * new finalizers then).
 */
export async function addFinalizer(api: Api, ref: ResourceRef, obj: KubeObject, signal?: AbortSignal): Promise<KubeObject | undefined> {
  if (hasFinalizer(obj)) return obj;
  const { namespace, name, uid, resourceVersion } = obj.metadata;
  try {
    return await api.request<KubeObject>('PATCH', resourcePath(ref, namespace, name), {
      body: { metadata: { uid, resourceVersion, finalizers: [...(obj.metadata.finalizers ?? []), FINALIZER] } },
      contentType: patchContentType('merge'),
      signal,
    });
  } catch (err) {
    if (err instanceof ApiError && (err.status === 409 || err.status === 404)) return undefined;
    throw err;
  }
}

/**
 * Removes only our finalizer: a JSON patch that first tests the object's uid and the entry at its index, so a list
 * changed by someone else fails the test (422) instead of losing their entry, and a namesake created since is
 * never touched; we then refetch and retry. Undefined when gone.
 */
export async function removeFinalizer(api: Api, ref: ResourceRef, obj: KubeObject, signal?: AbortSignal): Promise<KubeObject | undefined> {
  let current = obj;
  const path = resourcePath(ref, obj.metadata.namespace, obj.metadata.name);
  for (let attempt = 0; ; attempt++) {
    const index = (current.metadata.finalizers ?? []).indexOf(FINALIZER);
    if (index < 0) return current;
    try {
      return await api.request<KubeObject>('PATCH', path, {
        body: [
          { op: 'test', path: '/metadata/uid', value: obj.metadata.uid },
          { op: 'test', path: `/metadata/finalizers/${index}`, value: FINALIZER },
          { op: 'remove', path: `/metadata/finalizers/${index}` },
        ],
        contentType: patchContentType('json'),
        signal,
      });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      if (!(err instanceof ApiError && (err.status === 409 || err.status === 422)) || attempt >= MAX_ATTEMPTS) throw err;
      try {
        current = await api.request<KubeObject>('GET', path, { signal });
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return undefined;
        throw e;
      }
      if (current.metadata.uid !== obj.metadata.uid) return undefined;
    }
  }
}
