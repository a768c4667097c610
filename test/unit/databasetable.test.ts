// The DatabaseTable operator's pure parts: the type grammar, the spec at the edge, refused changes, the DDL text,
// and what its connection errors mean. The database itself is exercised end to end (test/e2e/databasetable.test.ts).
import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parse } from 'yaml';
import { ApiError } from '../../src/kube/api.ts';
import type { HandlerContext } from '../../src/operator/operator.ts';
import { CONNECTIONS_PER_DATABASE, Slots, describeUrl, setDefaultDatabaseUrl, unreachable } from '../../src/operators/databasetable/connection.ts';
import { databasetable } from '../../src/operators/databasetable/index.ts';
import { refusals } from '../../src/operators/databasetable/plan.ts';
import { readSpec, tableOf } from '../../src/operators/databasetable/spec.ts';
import { addColumn, commentOn, createTable, ownerComment, renameTable } from '../../src/operators/databasetable/sql.ts';
import { parseType } from '../../src/operators/databasetable/types.ts';

const seedSpec = async () => parse(await fs.readFile('lab/demo-databasetable.yaml', 'utf8')).spec;
const spec = (columns: Array<Record<string, string>>, extra: Record<string, unknown> = {}) => ({ tableName: 'T', columns, primaryKey: 'ID', ...extra });

describe('column type grammar', () => {
  it('accepts the seed types and renders them from their parts', () => {
    expect(['integer', 'varchar(50)', 'varchar(100)', 'date', 'timestamp'].map((t) => (parseType(t) as { sql: string }).sql)).toEqual([
      'integer',
      'varchar(50)',
      'varchar(100)',
      'date',
      'timestamp',
    ]);
  });

  it('gives every spelling of one type the same canonical name, as PostgreSQL reports it', () => {
    const same = [
      ['int', 'INTEGER', 'int4'],
      ['varchar(50)', 'character varying (50)', 'VARCHAR( 50 )'],
      ['numeric(10)', 'decimal(10,0)', 'NUMERIC(10, 0)'],
      ['timestamptz(3)', 'timestamp(3) with time zone'],
      ['char', 'character(1)'],
      ['float(10)', 'real', 'float4'],
      ['float', 'double  precision', 'float8'],
      ['integer[]', 'int4 []'],
    ];
    for (const group of same) {
      const names = group.map((t) => (parseType(t) as { canonical: string }).canonical);
      expect(new Set(names).size, group.join(' / ')).toBe(1);
    }
    expect((parseType('timestamp') as { canonical: string }).canonical).toBe('timestamp without time zone');
    expect((parseType('numeric(10, 2)') as { canonical: string }).canonical).toBe('numeric(10,2)');
  });

  it('refuses injection strings, unknown names and bad modifiers, naming the problem', () => {
    for (const bad of ['integer); DROP TABLE x; --', 'integer; DROP TABLE x', "text DEFAULT 'x'", 'int4 NOT NULL', 'varchar(50) collate "C"', 'integer --', 'geometry', '', 'x'.repeat(101)]) {
      expect(typeof parseType(bad), bad).toBe('string');
    }
    expect(parseType('integer(5)')).toBe('integer takes no length or precision');
    expect(parseType('varchar(0)')).toBe('varchar: 0 is outside 1 to 10485760');
    expect(parseType('varchar(5,2)')).toBe('varchar takes one number, not two');
    expect(parseType('numeric(2,5)')).toBe('numeric: the scale 5 is larger than the precision 2');
    expect(parseType('date with time zone')).toBe('date takes no time zone clause');
    expect(parseType(42)).toMatch(/must be a PostgreSQL type name/);
  });
});

describe('DatabaseTable spec at the edge', () => {
  it('reads the seed example as written: names folded to lower case, USER_ID the key', async () => {
    const table = tableOf(await seedSpec());
    expect(table.name).toBe('website_users');
    expect(table.columns.map((c) => `${c.name} ${c.sql}`)).toEqual(['user_id integer', 'user_name varchar(50)', 'user_email varchar(100)', 'signup_date date', 'last_login timestamp']);
    expect(table.primaryKey).toBe('user_id');
    expect(table.secretRef).toBeUndefined();
  });

  it('names every problem: bad names, types, duplicate columns, a key that is no column, a bad Secret reference', () => {
    const { problems } = readSpec({
      tableName: 'users; DROP TABLE x',
      columns: [{ ID: 'integer' }, { id: 'text' }, { '1st': 'text' }, { A: 'integer); DROP TABLE x; --' }, { B: 'text', C: 'text' }],
      primaryKey: 'NOPE',
      connectionSecretRef: { name: 'Not_A_Name' },
    });
    expect(problems).toEqual([
      'spec.tableName must be a name of letters, digits and underscores (not starting with a digit, at most 63), got "users; DROP TABLE x"',
      'spec.columns[1]: column id is listed twice',
      'spec.columns[2] must be a name of letters, digits and underscores (not starting with a digit, at most 63), got "1st"',
      expect.stringContaining('spec.columns[3].A: "integer); DROP TABLE x; --" is not a PostgreSQL type this operator accepts'),
      'spec.columns[4] must be one "NAME: type" pair, got {"B":"text","C":"text"}',
      'spec.primaryKey "NOPE" must be one of the columns',
      'spec.connectionSecretRef.name must be a Secret\'s name (a DNS subdomain of at most 253 characters), got "Not_A_Name"',
    ]);
    expect(readSpec({}).problems).toHaveLength(3);
    expect(() => tableOf({})).toThrow(expect.objectContaining({ name: 'PermanentError', reason: 'InvalidSpec' }));
  });

  it('takes the Secret key "url" unless another is named', () => {
    expect(tableOf(spec([{ ID: 'int' }], { connectionSecretRef: { name: 'db' } })).secretRef).toEqual({ name: 'db', key: 'url' });
    expect(tableOf(spec([{ ID: 'int' }], { connectionSecretRef: { name: 'db', key: 'dsn' } })).secretRef).toEqual({ name: 'db', key: 'dsn' });
  });
});

describe('DatabaseTable updates', () => {
  const t = (columns: Array<Record<string, string>>, extra: Record<string, unknown> = {}) => tableOf(spec(columns, extra));

  it('refuses a removed column and a changed type, naming each column', () => {
    const before = t([{ ID: 'integer' }, { NAME: 'varchar(50)' }, { MAIL: 'text' }]);
    const after = t([{ ID: 'integer' }, { NAME: 'varchar(80)' }]);
    expect(refusals(before, after)).toEqual(['column name would change type from varchar(50) to varchar(80)', 'column mail would be removed']);
  });

  it('allows added columns, a renamed table, a new key and a respelled type', () => {
    const before = t([{ ID: 'int' }, { NAME: 'varchar(50)' }]);
    const after = t([{ ID: 'INTEGER' }, { NAME: 'character varying(50)' }, { MAIL: 'text' }], { tableName: 'OTHER', primaryKey: 'NAME' });
    expect(refusals(before, after)).toEqual([]);
  });
});

describe('DatabaseTable DDL', () => {
  it('quotes every identifier with the driver, so reserved words and case are safe', async () => {
    expect(createTable(tableOf(await seedSpec()))).toBe(
      'CREATE TABLE "website_users" ("user_id" integer, "user_name" varchar(50), "user_email" varchar(100), "signup_date" date, "last_login" timestamp, PRIMARY KEY ("user_id"))',
    );
    const user = tableOf({ tableName: 'USER', columns: [{ ORDER: 'int' }], primaryKey: 'ORDER' });
    expect(createTable(user)).toBe('CREATE TABLE "user" ("order" int, PRIMARY KEY ("order"))');
    expect(renameTable('a', 'b')).toBe('ALTER TABLE "a" RENAME TO "b"');
    expect(addColumn('user', user.columns[0]!)).toBe('ALTER TABLE "user" ADD COLUMN "order" int');
    expect(commentOn('t', ownerComment('ns', "it's"))).toBe(`COMMENT ON TABLE "t" IS 'kustomate.io/owner: databasetables.kopf.demo/ns/it''s'`);
  });
});

describe('DatabaseTable connection', () => {
  it('describes a URL by host, port and database, never by user or password', () => {
    expect(describeUrl('postgresql://demouser:demopw@localhost/demodb', 'x')).toBe('localhost:5432/demodb');
    expect(describeUrl('postgres://u:p4ss@10.0.0.1:6543/db?sslmode=disable', 'x')).toBe('10.0.0.1:6543/db');
    for (const bad of ['mysql://u:secretpw@h/db', 'u:secretpw@h', 'not a url secretpw']) {
      const err = describeUrl(bad, 'the URL');
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).not.toContain('secretpw');
    }
    expect(() => setDefaultDatabaseUrl('mysql://u:secretpw@h/db')).toThrow('--database-url (or DATABASE_URL) must start with postgresql://');
  });

  it('tells an unreachable database from other database errors', () => {
    for (const code of ['ECONNREFUSED', '57P01', '08006', '28P01', '3D000']) expect(unreachable(Object.assign(new Error('x'), { code })), code).toBe(true);
    expect(unreachable(new Error('Connection terminated unexpectedly'))).toBe(true);
    for (const code of ['23505', '55P03', '42P07']) expect(unreachable(Object.assign(new Error('x'), { code })), code).toBe(false);
  });
});

describe('DatabaseTable handlers, before any database', () => {
  /** A handler context whose API finds no Secret; anything that tried to connect would need one. */
  const ctx = (spec: unknown, old?: unknown): HandlerContext<any> =>
    ({
      cause: 'update',
      body: { apiVersion: 'kopf.demo/v1', kind: 'DatabaseTable', metadata: { name: 't', namespace: 'ns' }, spec },
      spec,
      name: 't',
      namespace: 'ns',
      old: old === undefined ? undefined : { spec: old },
      retry: 0,
      logger: pino({ level: 'silent' }),
      api: { request: async () => Promise.reject(new ApiError(404, 'secrets "db" not found')) },
      signal: new AbortController().signal,
    }) as unknown as HandlerContext<any>;
  const handler = (cause: 'update' | 'delete') => databasetable.handlersFor(cause)[0]!.fn;
  const withSecret = (columns: Array<Record<string, string>>) => spec(columns, { connectionSecretRef: { name: 'db' } });

  it('refuses a removed column without looking for the database', async () => {
    const run = handler('update')(ctx(withSecret([{ ID: 'int' }]), withSecret([{ ID: 'int' }, { NAME: 'text' }])));
    await expect(run).rejects.toMatchObject({ name: 'PermanentError', reason: 'UnsupportedChange', message: 'refused: column name would be removed; table t was left untouched (revert the spec to heal)' });
  });

  it('refuses an update whose last-handled spec was kept only as a digest, rather than guess', async () => {
    await expect(handler('update')(ctx(withSecret([{ ID: 'int' }])))).rejects.toMatchObject({ name: 'PermanentError', reason: 'UnsupportedChange' });
  });

  it('lets a DatabaseTable whose connection Secret is gone go, leaving its table', async () => {
    const created = ctx(withSecret([{ ID: 'int' }]));
    created.body.status = { create_table: { message: 'CREATE TABLE "t" ("id" int)' } };
    expect(await handler('delete')(created)).toEqual({ message: 'table t left in place: Secret db not found' });
  });

  it('lets a DatabaseTable that never created its table go without reaching any database', async () => {
    expect(await handler('delete')(ctx(withSecret([{ ID: 'int' }])))).toEqual({ message: 'no table to drop: table t was never created' });
  });

  it('retries an allowed update while its connection Secret is missing', async () => {
    const run = handler('update')(ctx(withSecret([{ ID: 'int' }, { NAME: 'text' }]), withSecret([{ ID: 'int' }])));
    await expect(run).rejects.toMatchObject({ name: 'TemporaryError', reason: 'SecretNotFound' });
  });
});

describe('connections to one database', () => {
  it(`holds at most ${CONNECTIONS_PER_DATABASE} at once; the next in line gets a slot as soon as one is given back`, async () => {
    const slots = new Slots(CONNECTIONS_PER_DATABASE);
    let holding = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 60 }, async () => {
        const release = await slots.take();
        most = Math.max(most, ++holding);
        await new Promise((r) => setTimeout(r, 5));
        holding--;
        release();
      }),
    );
    expect(most).toBe(CONNECTIONS_PER_DATABASE);
    expect(slots.idle).toBe(true);
  });

  it('lets a waiter whose reconcile is cancelled leave the line, without taking a slot from the others', async () => {
    const slots = new Slots(1);
    const first = await slots.take();
    const cancel = new AbortController();
    const cancelled = slots.take(cancel.signal);
    const next = slots.take();
    cancel.abort(new Error('shutting down'));
    await expect(cancelled).rejects.toThrow('shutting down');
    first();
    const release = await next;
    release();
    release(); // given back twice: counted once
    expect(slots.idle).toBe(true);
  });
});

