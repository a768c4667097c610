// Why: JSON values compared as the API server sees them: the order of an object's keys means nothing (a custom
// resource comes back with its keys sorted, whatever order they were written in).

/** The value with every object's keys in sorted order, so equal values serialize equally. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/** Deep equality of two JSON values, whatever the order of their keys. */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
