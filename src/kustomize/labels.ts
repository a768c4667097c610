// Why: the labels and ownerReference that tie every object to one custom resource, so instances never share objects.
import { createHash } from 'node:crypto';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
/** One label whose value names the owning custom resource: <kind>.<group>.<name>, shortened to 63 chars. */
export const OWNER_LABEL = 'kustomate.io/owner';
/** The kind of the owner (<kind>.<group>): what an operator's watch of children selects on. */
export const OWNER_KIND_LABEL = 'kustomate.io/owner-kind';
/** The owner's uid, on every rendered object: cluster-scoped ones cannot carry an ownerReference to it. */
export const OWNER_UID_ANNOTATION = 'kustomate.io/owner-uid';
export const MANAGER = 'kustomate';

const MAX_LABEL_VALUE = 63;

/** A valid label value (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set). */
export function labelValue(raw: string): string {
  let v = raw.replace(/[^A-Za-z0-9._-]/g, '-');
  if (v.length > MAX_LABEL_VALUE) {
    const hash = createHash('sha256').update(raw).digest('hex').slice(0, 10);
    v = `${v.slice(0, MAX_LABEL_VALUE - 11)}-${hash}`;
  }
  return v.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
}

export function ownerLabelValue(kind: string, group: string, name: string): string {
  return labelValue(`${kind.toLowerCase()}.${group}.${name}`);
}

/** The custom resource an object belongs to. */
export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid?: string | undefined;
}

function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
}

/** The labels every owned object carries; the owner label alone identifies the custom resource (in its namespace). */
export function ownerLabels(owner: OwnerRef): { common: Record<string, string>; owner: Record<string, string> } {
  return {
    common: { [MANAGED_BY_LABEL]: MANAGER, [INSTANCE_LABEL]: owner.name, [OWNER_KIND_LABEL]: ownerKindLabelValue(owner) },
    owner: { [OWNER_LABEL]: ownerLabelValue(owner.kind, groupOf(owner.apiVersion), owner.name) },
  };
}

/** The owner-kind label's value for an owner (or a resource): <kind>.<group>. */
export function ownerKindLabelValue(owner: { apiVersion: string; kind: string }): string {
  return labelValue(`${owner.kind.toLowerCase()}.${groupOf(owner.apiVersion)}`);
}

/** The label selector that finds every object owned by this custom resource. */
export function ownerSelector(owner: OwnerRef): string {
  return `${OWNER_LABEL}=${ownerLabels(owner).owner[OWNER_LABEL]}`;
}

/** A controller ownerReference: the garbage collector deletes the object with its owner. */
export function ownerReference(owner: OwnerRef & { uid: string }): Record<string, unknown> {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true };
}
