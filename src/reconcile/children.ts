// Why: what record, prune, drift and health need of an object's children: read one, tell whether it drifted, and
// delete one, but only a child that really is this object's (its owner label, and its ownerReference when namespaced).
import { ApiError, resourcePath, type Api, type KubeObject } from '../kube/api.ts';
import type { Discovery } from '../kube/discovery.ts';
import { OWNER_LABEL, OWNER_UID_ANNOTATION, ownerLabels } from '../kustomize/labels.ts';
import type { ChildStates } from './child-states.ts';
import { childKey, describeEntry, entryOf, type InventoryEntry } from './inventory.ts';
import { changedBy, ownFields, ownFieldsDigest } from './managed-fields.ts';

export interface ChildrenDeps {
  api: Api;
  discovery: Discovery;
  signal?: AbortSignal | undefined;
  /** Which child states the watches brought, so a reconcile may start from them instead of a GET. */
  states?: ChildStates | undefined;
}

async function pathOf(deps: ChildrenDeps, e: InventoryEntry): Promise<string | undefined> {
  const ref = await deps.discovery.resourceFor(e.apiVersion, e.kind);
  return ref && resourcePath(ref, ref.namespaced ? e.namespace : undefined, e.name);
}

/** The child as it is now; undefined when it does not exist (or its kind is no longer served). */
export async function loadChild(deps: ChildrenDeps, e: InventoryEntry): Promise<KubeObject | undefined> {
  const path = await pathOf(deps, e);
  if (!path) return undefined;
  try {
    return await deps.api.request<KubeObject>('GET', path, { signal: deps.signal });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

/**
 * The children one reconcile has read or applied, so each is fetched at most once per reconcile. `brought`: the
 * children's states their watch brought since the object's last reconcile started, by childKey; one that is current
 * (see ChildStates) stands for a GET.
 */
export class ChildView {
  private readonly deps: ChildrenDeps;
  private readonly brought: ReadonlyMap<string, KubeObject> | undefined;
  private readonly known = new Map<string, KubeObject | undefined>();

  constructor(deps: ChildrenDeps, brought?: ReadonlyMap<string, KubeObject>) {
    this.deps = deps;
    this.brought = brought;
  }

  async get(e: InventoryEntry): Promise<KubeObject | undefined> {
    const key = childKey(e);
    if (!this.known.has(key)) {
      const watched = this.brought?.get(key);
      const live = watched && this.deps.states?.current(watched) ? watched : await loadChild(this.deps, e);
      if (live) this.deps.states?.saw(live);
      this.known.set(key, live);
    }
    return this.known.get(key);
  }

  /** An object as an apply returned it: newer than anything read before. */
  applied(obj: KubeObject): void {
    this.known.set(childKey(entryOf(obj)), obj);
    this.deps.states?.saw(obj);
  }

  /** A child this reconcile deleted. */
  gone(e: InventoryEntry): void {
    this.known.set(childKey(e), undefined);
  }
}

export interface Drift {
  entry: InventoryEntry;
  deleted: boolean;
  /** The child as found; after a repair, what the repair took back is told from it. */
  live?: KubeObject | undefined;
  /** Who changed fields kustomate set, and which, as managedFields tell. */
  changes: Array<{ manager: string; fields: string[] }>;
}

/** A batch/v1 Job: one run, which may be removed once it finished. */
export const isJob = (e: InventoryEntry): boolean => e.kind === 'Job' && e.apiVersion.startsWith('batch/');

/**
 * Whether a child differs from what kustomate applied: gone, or a field kustomate set now belongs to someone else.
 * A Job that is gone is not drift: a Job is one run, and may be removed once it finished (ttlSecondsAfterFinished).
 */
export function driftOf(e: InventoryEntry, live: KubeObject | undefined): Drift | undefined {
  if (!live) return isJob(e) ? undefined : { entry: e, deleted: true, changes: [] };
  if (e.fields === undefined || ownFieldsDigest(live) === e.fields) return undefined;
  return { entry: e, deleted: false, live, changes: changedBy(live) };
}

/**
 * After a repair, exactly what it took back: the fields kustomate owns now and did not before, each with the
 * manager that had it. Falls back to what the drift check saw when that cannot be told.
 */
export function repaired(d: Drift, after: KubeObject | undefined): Drift {
  if (d.deleted || !d.live || !after) return d;
  const before = new Set(ownFields(d.live));
  const taken = ownFields(after).filter((f) => !before.has(f));
  const changes = d.changes.map((c) => ({ manager: c.manager, fields: c.fields.filter((f) => taken.includes(f)) })).filter((c) => c.fields.length);
  return changes.length ? { ...d, changes } : d;
}

/** `Deployment demo/web: spec.replicas changed by kubectl (scale)`. */
export function describeDrift(d: Drift): string {
  if (d.deleted) return `${describeEntry(d.entry)} was deleted`;
  if (d.changes.length === 0) return `${describeEntry(d.entry)}: fields kustomate set were changed`;
  return `${describeEntry(d.entry)}: ${d.changes.map((c) => `${c.fields.join(', ')} changed by ${c.manager}`).join('; ')}`;
}

/** The custom resource that owns the children. */
export interface ChildOwner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/**
 * Whether a live object is this owner's: its owner label, and its ownerReference to the owner's uid (namespaced
 * objects) or the owner-uid annotation (cluster-scoped ones, which cannot reference a namespaced owner).
 */
export function ownedBy(live: KubeObject, owner: ChildOwner): boolean {
  if (!labelledFor(live, owner)) return false;
  if (live.metadata.namespace) return (live.metadata.ownerReferences ?? []).some((r) => r.uid === owner.uid);
  return live.metadata.annotations?.[OWNER_UID_ANNOTATION] === owner.uid;
}

/** Whether a live object carries this owner's label: all a retained object (one that outlives its owner) has. */
export function labelledFor(live: KubeObject, owner: ChildOwner): boolean {
  return live.metadata.labels?.[OWNER_LABEL] === ownerLabels(owner).owner[OWNER_LABEL];
}

/**
 * Deletes a child, only if it is this owner's; the delete carries its uid as a precondition, so an object created
 * since under the same name is never touched. `gone`: nothing to delete; `foreign`: left alone, not this owner's.
 */
export async function deleteChild(deps: ChildrenDeps, e: InventoryEntry, owner: ChildOwner): Promise<'deleted' | 'gone' | 'foreign'> {
  const path = await pathOf(deps, e);
  const live = path ? await loadChild(deps, e) : undefined;
  if (!path || !live) return 'gone';
  if (!ownedBy(live, owner)) return 'foreign';
  try {
    await deps.api.request('DELETE', path, {
      body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid: live.metadata.uid } },
      signal: deps.signal,
    });
    return 'deleted';
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 409)) return 'gone';
    throw err;
  }
}
