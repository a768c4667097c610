// Why: objects a handler creates itself (not through kustomize) get the same ownership as rendered ones.
import type { KubeObject } from '../kube/api.ts';
import { ownerLabels, ownerReference } from '../kustomize/labels.ts';

/**
 * Sets the owner's namespace (when missing), the owner labels, and a controller ownerReference, so the object
 * is found by the owner's label selector and garbage-collected with it. Returns the same object, changed.
 */
export function adopt<T extends { metadata?: Record<string, unknown> }>(owner: KubeObject, child: T): T {
  if (!owner.metadata.uid) throw new Error(`cannot adopt into ${owner.kind} ${owner.metadata.name}: it has no uid`);
  const meta = (child.metadata ??= {}) as {
    namespace?: string;
    labels?: Record<string, string>;
    ownerReferences?: Array<Record<string, unknown>>;
  };
  meta.namespace ??= owner.metadata.namespace;
  const labels = ownerLabels({ ...owner, name: owner.metadata.name });
  meta.labels = { ...meta.labels, ...labels.common, ...labels.owner };
  const others = (meta.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid);
  meta.ownerReferences = [...others, ownerReference({ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid })];
  return child;
}
