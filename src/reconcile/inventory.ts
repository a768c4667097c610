// Why: what each kustomize spec of an object applied, kept in status.inventory, so prune, drift and health work
// from a record of the children rather than from a list of kinds.
import type { KubeObject } from '../kube/api.ts';
import { ownFieldsDigest } from './managed-fields.ts';

/** One child: where it is, and a digest of the fields kustomate set on it when it was last applied. */
export interface InventoryEntry {
  apiVersion: string;
  kind: string;
  namespace?: string | undefined;
  name: string;
  fields?: string | undefined;
}

/** The children of each kustomize spec, by its id. */
export type Inventory = Record<string, InventoryEntry[]>;

function isEntry(value: unknown): value is InventoryEntry {
  const e = value as Partial<InventoryEntry> | null;
  return !!e && typeof e.apiVersion === 'string' && typeof e.kind === 'string' && typeof e.name === 'string';
}

export function readInventory(obj: KubeObject): Inventory {
  const raw = obj.status?.inventory;
  if (!raw || typeof raw !== 'object') return {};
  const out: Inventory = {};
  for (const [id, list] of Object.entries(raw as Record<string, unknown>)) if (Array.isArray(list)) out[id] = list.filter(isEntry);
  return out;
}

/** The entry for an object as the apply returned it. */
export function entryOf(obj: KubeObject): InventoryEntry {
  const { namespace, name } = obj.metadata;
  return { apiVersion: obj.apiVersion, kind: obj.kind, ...(namespace ? { namespace } : {}), name, fields: ownFieldsDigest(obj) };
}

const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');

/** A child's identity, whatever API version it was read at. */
export function childKey(e: InventoryEntry): string {
  return `${groupOf(e.apiVersion)}/${e.kind}/${e.namespace ?? ''}/${e.name}`;
}

/** The same child, whatever API version it was read at. */
export function sameChild(a: InventoryEntry, b: InventoryEntry): boolean {
  return childKey(a) === childKey(b);
}

/** `Deployment demo/web`, as a person names it. */
export function describeEntry(e: InventoryEntry): string {
  return `${e.kind} ${e.namespace ? `${e.namespace}/` : ''}${e.name}`;
}

/** The entries of `before` that `after` no longer holds. */
export function stale(before: InventoryEntry[], after: InventoryEntry[]): InventoryEntry[] {
  return before.filter((b) => !after.some((a) => sameChild(a, b)));
}
