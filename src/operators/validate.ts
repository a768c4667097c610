// Why: the small checks example operators share when they validate a custom resource at the edge.
import { PermanentError } from '../operator/errors.ts';

/**
 * The most replicas an example operator asks for. A workshop operator has no business starting more pods than a
 * small cluster holds; the CRDs say the same (`maximum`), and an int32 could never hold more than 2147483647.
 */
export const MAX_REPLICAS = 100;

/** A whole number from 0 to `max` (a number: a string, even "3", is refused, as the CRD's schema refuses it). */
export function wholeNumber(raw: unknown, field: string, max = MAX_REPLICAS): number | string {
  const n = raw;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    return `${field} must be a whole number ≥ 0, got ${describe(raw)}`;
  }
  if (n > max) return `${field} must be at most ${max}, got ${n}`;
  return n;
}

/** A value as a problem message shows it: short, and without control characters. */
function describe(raw: unknown): string {
  const text = JSON.stringify(raw) ?? 'nothing';
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * The name of a custom resource whose name becomes part of other names and labels: at most `max` characters
 * (a label value holds 63), and with `dns1035` a DNS-1035 label, as a Service name must be
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#rfc-1035-label-names).
 */
export function nameProblems(name: string, max: number, dns1035 = false): string[] {
  const problems: string[] = [];
  if (name.length > max) problems.push(`metadata.name must be at most ${max} characters, got ${name.length}`);
  if (dns1035 && !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) problems.push(`metadata.name must start with a letter and hold only a-z, 0-9 and '-', got ${describe(name)}`);
  return problems;
}

/** A validator's answer for one such value: no problems, or the one found. */
export function problemsOf(value: number | string): string[] {
  return typeof value === 'string' ? [value] : [];
}

/** The number, or PermanentError(InvalidSpec): builders also run from `kustomate render`, before any validator. */
export function required(value: number | string): number {
  if (typeof value === 'string') throw new PermanentError(value, 'InvalidSpec');
  return value;
}

/** Reads a nested field: at(obj, ['spec', 'gordon', 'replicas']). */
export function at(obj: unknown, path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}
