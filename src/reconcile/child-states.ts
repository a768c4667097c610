// Why: a reconcile woken by its children judges drift and health from the child states their watch brought, with no
// GET of each child, once that watch has brought the state the object's last reconcile saw: what follows is newer.
import type { KubeObject } from '../kube/api.ts';
import { childKey } from './inventory.ts';

/**
 * Resource versions remembered per child, newest last. In a burst the watch brings a new child several changes
 * (its own create, then its controller's status writes) before the answer of the apply that created it is read.
 */
export const DELIVERED_REMEMBERED = 8;

/** A child's identity, whatever API version it was read at (as ChildView knows it). */
export const keyOfChild = (obj: KubeObject): string =>
  childKey({ apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name });

/**
 * Children remembered at most, the least recently seen forgotten first (a child whose deletion no watch reports, its
 * kind not watchable, would stay forever); one forgotten is read again.
 */
export const CHILDREN_REMEMBERED = 4096;

/**
 * A child at one API version. One kind may be watched at two versions at once (a base moved to a new one): two
 * watches, whose events interleave in no order, so each version's states are told apart.
 */
const versionKey = (obj: KubeObject): string => `${obj.apiVersion}/${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;

/** Sets a key as the most recently used one, forgetting the least recently used past `most`. */
function touch<V>(map: Map<string, V>, key: string, value: V, most: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > most) map.delete(map.keys().next().value!);
}

/**
 * Which child states a watch has brought, in order, and which state a reconcile saw last. A resourceVersion names one
 * state of one object, and may be compared for equality only
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions); a watch brings an object's states
 * in the order they happened (each version's watch on its own). So a state the watch brought at or after the one a
 * reconcile saw (read, or as its apply left it) is as current as that reconcile's knowledge, and newer; one brought
 * before it, or when that one was never brought (yet), is not trusted, and the child is read.
 */
export class ChildStates {
  private readonly delivered = new Map<string, string[]>();
  private readonly seen = new Map<string, string>();

  /** A watch event of a child. A deletion (or the child no longer matching the watch) forgets it: it is read next. */
  observe(type: 'ADDED' | 'MODIFIED' | 'DELETED', child: KubeObject): void {
    const key = versionKey(child);
    const rv = child.metadata.resourceVersion;
    if (type === 'DELETED' || rv === undefined) {
      this.delivered.delete(key);
      this.seen.delete(key);
      return;
    }
    const list = this.delivered.get(key) ?? [];
    list.push(rv);
    if (list.length > DELIVERED_REMEMBERED) list.shift();
    touch(this.delivered, key, list, CHILDREN_REMEMBERED);
  }

  /** A reconcile saw this state of the child: it read it, or an apply left it so. */
  saw(child: KubeObject): void {
    const rv = child.metadata.resourceVersion;
    if (rv !== undefined) touch(this.seen, versionKey(child), rv, CHILDREN_REMEMBERED);
  }

  /** Whether this state, as the watch brought it, may stand for a read of the child. */
  current(child: KubeObject): boolean {
    const key = versionKey(child);
    const list = this.delivered.get(key);
    const seen = this.seen.get(key);
    if (!list || seen === undefined) return false;
    const at = list.lastIndexOf(seen);
    return at >= 0 && list.lastIndexOf(child.metadata.resourceVersion ?? '') >= at;
  }
}
