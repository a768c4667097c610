// Why: server-side apply records, per object, which manager set which field, and a field whose value someone else
// changes moves to that manager (https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management).
// So kustomate can tell that a child drifted, which fields and who changed them, from the object alone.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../kube/api.ts';
import { FIELD_MANAGER } from '../kustomize/commands.ts';
import { sortKeys } from './json.ts';

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

function entries(obj: KubeObject): ManagedFieldsEntry[] {
  const mf = (obj.metadata as { managedFields?: unknown }).managedFields;
  return Array.isArray(mf) ? (mf as ManagedFieldsEntry[]) : [];
}

const own = (obj: KubeObject) => entries(obj).find((e) => e.manager === FIELD_MANAGER && e.operation === 'Apply');

/** A digest of the fields kustomate's apply owns on this object; it changes when someone takes one of them. */
export function ownFieldsDigest(obj: KubeObject): string {
  return createHash('sha256').update(JSON.stringify(sortKeys(own(obj)?.fieldsV1 ?? {}))).digest('hex').slice(0, 16);
}

/** The fields kustomate's apply owns on this object. */
export function ownFields(obj: KubeObject): string[] {
  return fieldPaths(own(obj)?.fieldsV1 ?? {});
}

/** Field paths, readable: `spec.replicas`, `spec.template.spec.containers[name=web].image`. */
export function fieldPaths(fields: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, sub] of Object.entries(fields)) {
    if (key === '.') continue;
    let part: string;
    if (key.startsWith('f:')) part = `${prefix ? '.' : ''}${key.slice(2)}`;
    else if (key.startsWith('k:')) {
      const k = JSON.parse(key.slice(2)) as Record<string, unknown>;
      part = `[${Object.entries(k).map(([n, v]) => `${n}=${String(v)}`).join(',')}]`;
    } else if (key.startsWith('v:')) part = `[${key.slice(2)}]`;
    else part = `${prefix ? '.' : ''}${key}`;
    const children = sub && typeof sub === 'object' ? fieldPaths(sub as Record<string, unknown>, prefix + part) : [];
    out.push(...(children.length ? children : [prefix + part]));
  }
  return out;
}

/**
 * Who else set fields of this object, and which: managers that wrote with a plain update (kubectl edit, scale,
 * patch; other controllers), the status subresource aside (that is where controllers report, not change intent).
 */
export function changedBy(obj: KubeObject): Array<{ manager: string; fields: string[] }> {
  return entries(obj)
    .filter((e) => e.manager !== FIELD_MANAGER && e.operation === 'Update' && e.subresource !== 'status' && e.fieldsV1)
    .map((e) => ({ manager: `${e.manager ?? 'unknown'}${e.subresource ? ` (${e.subresource})` : ''}`, fields: fieldPaths(e.fieldsV1!) }))
    .filter((c) => c.fields.length > 0);
}
