// Why: the DDL a DatabaseTable needs and the catalog reads that make it idempotent. Identifiers are quoted with
// pg's escapeIdentifier, types come from the checked grammar, values are parameters; the one literal, the
// ownership comment, uses pg's escapeLiteral because COMMENT takes no parameters.
// The driver's own escaping, from its small utility module (the whole driver loads only with a connection).
import pgUtils from 'pg/lib/utils.js';
import { PermanentError } from '../../operator/errors.ts';
import type { Column, Table } from './spec.ts';

const { escapeIdentifier: id, escapeLiteral } = pgUtils;

/** What runs a query: a connected pg Client. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

export const createTable = (t: Table) =>
  `CREATE TABLE ${id(t.name)} (${[...t.columns.map((c) => `${id(c.name)} ${c.sql}`), `PRIMARY KEY (${id(t.primaryKey)})`].join(', ')})`;
export const commentOn = (table: string, text: string) => `COMMENT ON TABLE ${id(table)} IS ${escapeLiteral(text)}`;
export const renameTable = (from: string, to: string) => `ALTER TABLE ${id(from)} RENAME TO ${id(to)}`;
export const addColumn = (table: string, c: Column) => `ALTER TABLE ${id(table)} ADD COLUMN ${id(c.name)} ${c.sql}`;
export const dropConstraint = (table: string, name: string) => `ALTER TABLE ${id(table)} DROP CONSTRAINT ${id(name)}`;
export const addPrimaryKey = (table: string, column: string) => `ALTER TABLE ${id(table)} ADD PRIMARY KEY (${id(column)})`;
export const dropTable = (table: string) => `DROP TABLE ${id(table)}`;

/** The comment that marks a table as one DatabaseTable's, so a second one claiming it is told apart. */
export const ownerComment = (namespace: string, name: string) => `${OWNER_PREFIX}${namespace}/${name}`;
const OWNER_PREFIX = 'kustomate.io/owner: databasetables.kopf.demo/';

/** A relation in the current schema: its oid, kind (r: table, p: partitioned table) and comment. */
interface Relation {
  oid: string;
  kind: string;
  comment: string | null;
}

async function relation(db: Queryable, name: string): Promise<Relation | undefined> {
  const { rows } = await db.query<{ oid: string; kind: string; comment: string | null }>(
    `SELECT c.oid::text AS oid, c.relkind::text AS kind, pg_catalog.obj_description(c.oid, 'pg_class') AS comment
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relname = $1`,
    [name],
  );
  return rows[0];
}

/** The tables in the current schema marked as `owner`'s. */
export async function ownedTables(db: Queryable, owner: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND pg_catalog.obj_description(c.oid, 'pg_class') = $1
      ORDER BY 1`,
    [owner],
  );
  return rows.map((r) => r.name);
}

async function columnNames(db: Queryable, oid: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    'SELECT attname AS name FROM pg_catalog.pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped',
    [oid],
  );
  return rows.map((r) => r.name);
}

async function primaryKey(db: Queryable, oid: string): Promise<{ name: string; columns: string[] } | undefined> {
  const { rows } = await db.query<{ name: string; columns: string[] }>(
    `SELECT con.conname AS name,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) AS k(num)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num) AS columns
       FROM pg_catalog.pg_constraint con WHERE con.conrelid = $1::oid AND con.contype = 'p'`,
    [oid],
  );
  return rows[0];
}

function whose(name: string, r: Relation): string {
  if (r.kind !== 'r' && r.kind !== 'p') return `${name} exists and is not a table`;
  if (r.comment?.startsWith(OWNER_PREFIX)) return `table ${name} belongs to DatabaseTable ${r.comment.slice(OWNER_PREFIX.length)}`;
  return `table ${name} exists and belongs to no DatabaseTable`;
}

/**
 * Brings the database to `table`, inside the caller's transaction, and returns the statements it ran. It starts
 * from what the catalog says, so running it again after a crash does only what is left: the table `owner` marked
 * is renamed if its name changed, missing columns are added, and the primary key is replaced if it differs.
 */
export async function converge(db: Queryable, table: Table, owner: string): Promise<string[]> {
  const ran: string[] = [];
  const run = async (sql: string) => {
    await db.query(sql);
    ran.push(sql);
  };
  // Two DatabaseTables creating one table at once: the second waits here, then finds it taken.
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`kustomate databasetable ${table.name}`]);
  let found = await relation(db, table.name);
  if (found && found.comment !== owner) throw new PermanentError(`${whose(table.name, found)}; this DatabaseTable does not take it over`, 'Conflict');
  if (!found) {
    const owned = await ownedTables(db, owner);
    if (owned.length > 1) throw new PermanentError(`tables ${owned.join(', ')} are all marked as this DatabaseTable's; keep one`, 'Conflict');
    if (owned.length === 0) {
      await run(createTable(table));
      await run(commentOn(table.name, owner));
      return ran;
    }
    await run(renameTable(owned[0]!, table.name));
    found = (await relation(db, table.name))!;
  }
  const have = await columnNames(db, found.oid);
  for (const column of table.columns) if (!have.includes(column.name)) await run(addColumn(table.name, column));
  const key = await primaryKey(db, found.oid);
  if (key?.columns.length !== 1 || key.columns[0] !== table.primaryKey) {
    if (key) await run(dropConstraint(table.name, key.name));
    await run(addPrimaryKey(table.name, table.primaryKey));
  }
  return ran;
}

/** Drops the tables marked as `owner`'s (normally one; none when another DatabaseTable held the name). */
export async function dropOwned(db: Queryable, owner: string): Promise<string[]> {
  const ran: string[] = [];
  for (const name of await ownedTables(db, owner)) {
    const sql = dropTable(name);
    await db.query(sql);
    ran.push(sql);
  }
  return ran;
}
