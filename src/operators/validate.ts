// Why: the small checks example operators share when they validate a custom resource at the edge.
import { PermanentError } from '../operator/errors.ts';

/** A whole number ≥ 0; a numeric string ("3") is read as the number. Returns the number or a problem. */
export function wholeNumber(raw: unknown, field: string): number | string {
  const n = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    return `${field} must be a whole number ≥ 0, got ${JSON.stringify(raw) ?? 'nothing'}`;
  }
  return n;
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
