// Why: a column's type goes into DDL, where no parameter can stand for it; only types this grammar of PostgreSQL's
// built-in type names accepts (https://www.postgresql.org/docs/current/datatype.html) ever reach the database,
// rendered from the parsed parts, never from the text as written.

/** How a type name takes modifiers: none, one number (length or precision), or precision and scale. */
type Modifiers = 'none' | 'one' | 'two';

interface TypeName {
  /** One name per type, as PostgreSQL reports it (format_type): `int` and `int4` are `integer`. */
  canonical: string;
  modifiers: Modifiers;
  /** The smallest and largest number the first modifier may be. */
  range?: [number, number];
  /** The length PostgreSQL assumes when none is written (`char` is `character(1)`). */
  implied?: number;
  /** time and timestamp: `with time zone` or `without time zone` (the default) may follow. */
  zone?: 'optional' | 'with';
}

const n = (canonical: string): TypeName => ({ canonical, modifiers: 'none' });
const length = (canonical: string, max = 10_485_760, implied?: number): TypeName => ({ canonical, modifiers: 'one', range: [1, max], ...(implied ? { implied } : {}) });
const precision = (canonical: string, zone?: 'optional' | 'with'): TypeName => ({ canonical, modifiers: 'one', range: [0, 6], ...(zone ? { zone } : {}) });

/** Every accepted spelling, lower case with single spaces, and what it means. */
const NAMES: ReadonlyMap<string, TypeName> = new Map<string, TypeName>([
  ['smallint', n('smallint')], ['int2', n('smallint')],
  ['integer', n('integer')], ['int', n('integer')], ['int4', n('integer')],
  ['bigint', n('bigint')], ['int8', n('bigint')],
  ['smallserial', n('smallserial')], ['serial2', n('smallserial')],
  ['serial', n('serial')], ['serial4', n('serial')],
  ['bigserial', n('bigserial')], ['serial8', n('bigserial')],
  ['real', n('real')], ['float4', n('real')],
  ['double precision', n('double precision')], ['float8', n('double precision')],
  ['float', { canonical: 'float', modifiers: 'one', range: [1, 53] }],
  ['numeric', { canonical: 'numeric', modifiers: 'two', range: [1, 1000] }],
  ['decimal', { canonical: 'numeric', modifiers: 'two', range: [1, 1000] }],
  ['money', n('money')],
  ['boolean', n('boolean')], ['bool', n('boolean')],
  ['text', n('text')],
  ['character varying', length('character varying')], ['varchar', length('character varying')],
  ['character', length('character', 10_485_760, 1)], ['char', length('character', 10_485_760, 1)],
  ['bit', length('bit', 83_886_080, 1)],
  ['bit varying', length('bit varying', 83_886_080)], ['varbit', length('bit varying', 83_886_080)],
  ['bytea', n('bytea')],
  ['date', n('date')],
  ['time', precision('time', 'optional')],
  ['timetz', precision('time', 'with')],
  ['timestamp', precision('timestamp', 'optional')],
  ['timestamptz', precision('timestamp', 'with')],
  ['interval', precision('interval')],
  ['uuid', n('uuid')],
  ['json', n('json')], ['jsonb', n('jsonb')],
  ['xml', n('xml')],
  ['inet', n('inet')], ['cidr', n('cidr')], ['macaddr', n('macaddr')], ['macaddr8', n('macaddr8')],
  ['point', n('point')], ['line', n('line')], ['lseg', n('lseg')], ['box', n('box')], ['path', n('path')], ['polygon', n('polygon')], ['circle', n('circle')],
  ['tsvector', n('tsvector')], ['tsquery', n('tsquery')],
]);

/** The longest type text looked at; anything longer is refused before any pattern runs. */
export const MAX_TYPE_LENGTH = 100;

/** name, optional (a) or (a, b), optional time zone clause, optional array brackets; nothing else. */
const SHAPE = /^([a-z][a-z0-9]*(?: [a-z][a-z0-9]*)?) ?(?:\( ?(\d{1,8}) ?(?:, ?(\d{1,4}) ?)?\))? ?((?:with|without) time zone)? ?((?:\[\] ?)*)$/;

export interface ColumnType {
  /** The DDL text: the spelling as written (lower case), with the parsed numbers. */
  sql: string;
  /** The same type in PostgreSQL's own words, for comparing two spellings. */
  canonical: string;
}

/** A type written in a spec, or the reason it is refused. */
export function parseType(text: unknown): ColumnType | string {
  if (typeof text !== 'string' || text.length === 0) return 'must be a PostgreSQL type name such as integer or varchar(50)';
  if (text.length > MAX_TYPE_LENGTH) return `must be at most ${MAX_TYPE_LENGTH} characters`;
  const normal = text.trim().toLowerCase().replace(/\s+/g, ' ');
  const m = SHAPE.exec(normal);
  const name = m?.[1] === undefined ? undefined : NAMES.get(m[1]);
  if (!m || !name) return `${JSON.stringify(text)} is not a PostgreSQL type this operator accepts (a built-in type name, optionally with (length) or (precision, scale), "with time zone" and [])`;
  const [, spelling, first, second, zone, brackets] = m;
  const args = [first, second].filter((a): a is string => a !== undefined).map(Number);
  if (args.length > 0 && name.modifiers === 'none') return `${spelling} takes no length or precision`;
  if (args.length === 2 && name.modifiers !== 'two') return `${spelling} takes one number, not two`;
  const [lo, hi] = name.range ?? [0, 0];
  if (args[0] !== undefined && (args[0] < lo || args[0] > hi)) return `${spelling}: ${args[0]} is outside ${lo} to ${hi}`;
  if (args[1] !== undefined && args[1] > args[0]!) return `${spelling}: the scale ${args[1]} is larger than the precision ${args[0]}`;
  if (zone && name.zone !== 'optional') return `${spelling} takes no time zone clause`;
  const arrays = '[]'.repeat((brackets ?? '').split('[]').length - 1);
  const mods = args.length ? `(${args.join(',')})` : '';
  return { sql: `${spelling}${mods}${zone ? ` ${zone}` : ''}${arrays}`, canonical: canonicalOf(name, args, zone) + arrays };
}

/** PostgreSQL's own words for a type: numeric(10) is numeric(10,0), char is character(1), float(p) real or double. */
function canonicalOf(name: TypeName, args: number[], zone: string | undefined): string {
  if (name.canonical === 'float') return (args[0] ?? 53) <= 24 ? 'real' : 'double precision';
  const first = args[0] ?? name.implied;
  const mods = first === undefined ? '' : name.modifiers === 'two' ? `(${first},${args[1] ?? 0})` : `(${first})`;
  if (!name.zone) return name.canonical + mods;
  return `${name.canonical}${mods} ${name.zone === 'with' || zone === 'with time zone' ? 'with' : 'without'} time zone`;
}
