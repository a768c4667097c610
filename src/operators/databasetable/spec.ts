// Why: a DatabaseTable's spec checked at the edge and read into one plain table description; nothing unchecked
// goes further. Names follow PostgreSQL's rule for unquoted identifiers: folded to lower case
// (https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS), so the seed's
// WEBSITE_USERS is the table website_users, as its unquoted SQL made it; they are always quoted in DDL.
import type { KubeObject } from '../../kube/api.ts';
import { PermanentError } from '../../operator/errors.ts';
import { at } from '../validate.ts';
import { parseType, type ColumnType } from './types.ts';

/** The DatabaseTable's spec, as the CRD describes it: columns are one-key maps, `NAME: type`, as in the seed. */
export interface DatabaseTableSpec {
  tableName: string;
  columns: Array<Record<string, string>>;
  primaryKey: string;
  connectionSecretRef?: { name: string; key?: string };
}

export interface Column extends ColumnType {
  name: string;
}

/** What a valid spec means. */
export interface Table {
  name: string;
  columns: Column[];
  primaryKey: string;
  secretRef?: { name: string; key: string };
}

/** Letters, digits and underscores, not starting with a digit, at most 63 bytes (NAMEDATALEN - 1). */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** PostgreSQL's limit of columns per table. */
export const MAX_COLUMNS = 1600;
/** A Secret's name (a DNS subdomain) and a key in its data. */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;
export const DEFAULT_SECRET_KEY = 'url';

const show = (v: unknown) => JSON.stringify(v) ?? 'nothing';

function name(raw: unknown, field: string, problems: string[]): string {
  if (typeof raw === 'string' && NAME_PATTERN.test(raw)) return raw.toLowerCase();
  problems.push(`${field} must be a name of letters, digits and underscores (not starting with a digit, at most 63), got ${show(raw)}`);
  return '';
}

function columns(raw: unknown, problems: string[]): Column[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_COLUMNS) {
    problems.push(`spec.columns must be a list of 1 to ${MAX_COLUMNS} columns such as "- USER_ID: integer", got ${Array.isArray(raw) ? `${raw.length} columns` : show(raw)}`);
    return [];
  }
  const out: Column[] = [];
  raw.forEach((item: unknown, i) => {
    const entries = item && typeof item === 'object' && !Array.isArray(item) ? Object.entries(item) : [];
    if (entries.length !== 1) return void problems.push(`spec.columns[${i}] must be one "NAME: type" pair, got ${show(item)}`);
    const [key, value] = entries[0]!;
    const column = name(key, `spec.columns[${i}]`, problems);
    const type = parseType(value);
    if (typeof type === 'string') return void problems.push(`spec.columns[${i}].${key}: ${type}`);
    if (column && out.some((c) => c.name === column)) return void problems.push(`spec.columns[${i}]: column ${column} is listed twice`);
    if (column) out.push({ name: column, ...type });
  });
  return out;
}

function secretRef(raw: unknown, problems: string[]): Table['secretRef'] {
  if (raw === undefined) return undefined;
  const ref = (raw ?? {}) as { name?: unknown; key?: unknown };
  const key = ref.key ?? DEFAULT_SECRET_KEY;
  if (typeof ref.name !== 'string' || !SECRET_NAME.test(ref.name)) problems.push(`spec.connectionSecretRef.name must be a Secret's name (a DNS subdomain of at most 253 characters), got ${show(ref.name)}`);
  else if (typeof key !== 'string' || !SECRET_KEY.test(key)) problems.push(`spec.connectionSecretRef.key must be a key of the Secret's data, got ${show(ref.key)}`);
  else return { name: ref.name, key };
  return undefined;
}

/** The table a spec describes, with every problem found in it (none: the table is valid). */
export function readSpec(spec: unknown): { table: Table; problems: string[] } {
  const problems: string[] = [];
  const table: Table = {
    name: name(at(spec, ['tableName']), 'spec.tableName', problems),
    columns: columns(at(spec, ['columns']), problems),
    primaryKey: name(at(spec, ['primaryKey']), 'spec.primaryKey', problems),
  };
  if (table.primaryKey && table.columns.length && !table.columns.some((c) => c.name === table.primaryKey)) {
    problems.push(`spec.primaryKey ${show(at(spec, ['primaryKey']))} must be one of the columns`);
  }
  const ref = secretRef(at(spec, ['connectionSecretRef']), problems);
  if (ref) table.secretRef = ref;
  return { table, problems };
}

/** The validator: the problems of an object's spec. */
export function tableProblems(obj: KubeObject): string[] {
  return readSpec(obj.spec).problems;
}

/** The table of a spec that must be valid; PermanentError(InvalidSpec) otherwise. */
export function tableOf(spec: unknown): Table {
  const { table, problems } = readSpec(spec);
  if (problems.length) throw new PermanentError(problems.join('; '), 'InvalidSpec');
  return table;
}
