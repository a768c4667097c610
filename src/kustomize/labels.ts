// Why: the labels that tie every rendered object to one custom resource, so instances never share objects.
import { createHash } from 'node:crypto';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
/** One label whose value names the owning custom resource: <kind>.<group>.<name>, shortened to 63 chars. */
export const OWNER_LABEL = 'kustomate.io/owner';
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
