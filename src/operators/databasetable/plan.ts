// Why: what an update of a DatabaseTable may not do, decided from the spec last handled and the new one before
// anything touches the database: the seed refuses to remove a column or to change its type (data would be lost).
import type { Table } from './spec.ts';

/** Every refused change, each naming its column; none means the update may go ahead. */
export function refusals(before: Table, after: Table): string[] {
  const out: string[] = [];
  for (const old of before.columns) {
    const now = after.columns.find((c) => c.name === old.name);
    if (!now) out.push(`column ${old.name} would be removed`);
    else if (now.canonical !== old.canonical) out.push(`column ${old.name} would change type from ${old.sql} to ${now.sql}`);
  }
  return out;
}
