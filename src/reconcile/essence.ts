// Why: create, update and "nothing to do" are decided from the object itself: its essence compared with the
// last-handled one, which is kept in status so it is committed together with the Ready it describes.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../kube/api.ts';
import { secretDigest } from '../operator/digest.ts';
import type { DiffEntry, Essence } from '../operator/operator.ts';
import { sameJson, sortKeys } from './json.ts';

/** Objects handled by kustomate 0.1 kept the record here; it is still read, never written. */
export const LEGACY_ANNOTATION = 'kustomate.io/last-handled-configuration';
/** Above this size only a digest is kept; update handlers then get no `old`. */
export const MAX_ESSENCE_BYTES = 64 * 1024;

/** Annotations that say nothing about what to do: kubectl's own copy of the object, and kustomate 0.1's record. */
const NOISY_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration', LEGACY_ANNOTATION];

/** A copy of the spec with the value at each secret field (`spec.a.b`) replaced by its digest. */
function hideSecrets(spec: unknown, secretFields: readonly string[], uid: string): unknown {
  if (secretFields.length === 0 || !spec || typeof spec !== 'object') return spec;
  const copy = structuredClone(spec) as Record<string, unknown>;
  for (const field of secretFields) {
    const path = field.split('.').slice(1);
    const last = path.pop();
    let parent: unknown = copy;
    for (const key of path) parent = parent && typeof parent === 'object' && !Array.isArray(parent) ? (parent as Record<string, unknown>)[key] : undefined;
    if (last && parent && typeof parent === 'object' && !Array.isArray(parent) && Object.hasOwn(parent, last)) {
      const holder = parent as Record<string, unknown>;
      holder[last] = secretDigest(uid, holder[last]);
    }
  }
  return copy;
}

/**
 * What the handlers react to: spec, labels and annotations. Each of `secretFields` (dotted paths such as
 * `spec.password`) holds a digest of its value instead, so the record kept in status never holds it.
 */
export function essenceOf(obj: KubeObject, secretFields: readonly string[] = []): Essence {
  const annotations = Object.fromEntries(Object.entries(obj.metadata.annotations ?? {}).filter(([k]) => !NOISY_ANNOTATIONS.includes(k)));
  const labels = obj.metadata.labels ?? {};
  const metadata: Essence['metadata'] = {};
  if (Object.keys(labels).length) metadata.labels = labels;
  if (Object.keys(annotations).length) metadata.annotations = annotations;
  const essence: Essence = {};
  if (obj.spec !== undefined) essence.spec = hideSecrets(obj.spec, secretFields, obj.metadata.uid ?? '');
  if (Object.keys(metadata).length) essence.metadata = metadata;
  return sortKeys(essence) as Essence;
}

/** The recorded form: the essence as JSON, or a digest of it when it is too large to keep. */
export function encodeEssence(essence: Essence): string {
  const json = JSON.stringify(essence);
  if (Buffer.byteLength(json) <= MAX_ESSENCE_BYTES) return json;
  return JSON.stringify({ digest: createHash('sha256').update(json).digest('hex') });
}

/** The status field that holds the record: status.kustomate.lastHandled. */
export function lastHandledStatus(encoded: string): Record<string, unknown> {
  return { kustomate: { lastHandled: encoded } };
}

/** The last-handled essence: undefined if never handled, `{encoded}` alone when only a digest was kept. */
export function lastHandled(obj: KubeObject): { essence?: Essence; encoded: string } | undefined {
  const recorded = (obj.status?.kustomate as { lastHandled?: unknown } | undefined)?.lastHandled;
  const raw = typeof recorded === 'string' ? recorded : obj.metadata.annotations?.[LEGACY_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw) as Essence & { digest?: string };
    return parsed.digest ? { encoded: raw } : { essence: parsed, encoded: raw };
  } catch {
    return { encoded: raw };
  }
}

/** kopf-style diff: one entry per changed leaf (objects are walked, anything else compares whole). */
export function diff(a: unknown, b: unknown, path: string[] = []): DiffEntry[] {
  if (sameJson(a, b)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (a === undefined) return [['add', path, undefined, b]];
  if (b === undefined) return [['remove', path, a, undefined]];
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diff(a[k], b[k], [...path, k]));
  }
  return [['change', path, a, b]];
}
