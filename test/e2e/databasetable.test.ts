// The DatabaseTable operator end to end: the real control plane, the real operator process, and the real PostgreSQL
// from `npm run postgres:up`, checked through information_schema, status and Events. Each run gets its own database;
// the postgres:up and postgres:down scripts themselves run once more, on a server of their own.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg, { escapeIdentifier, escapeLiteral } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { postgresStart, postgresStop } from '../../lab/postgres/postgres.ts';
import { CONNECTIONS_PER_DATABASE } from '../../src/operators/databasetable/connection.ts';
import { applyObjects, cleanNamespace, createNamespace, deleteNamespace, getJson, k, KUBECTL, kubeconfig, readyCondition, startOperator, waitFor, type OperatorProcess } from './helpers.ts';

const suffix = randomBytes(3).toString('hex');
const database = `e2e_dbtable_${suffix}`;
const urlFor = (base: string, db: string, user?: { name: string; password: string }) => {
  const u = new URL(base);
  u.pathname = `/${db}`;
  if (user) [u.username, u.password] = [user.name, user.password];
  return u.toString();
};
const adminUrl = () => inject('databaseUrl');
const dbUrl = () => urlFor(adminUrl(), database);

/** One statement on a fresh connection, so a server restart leaves no stale client behind. */
async function sql<R = Record<string, any>>(text: string, values: unknown[] = [], url = dbUrl()): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text, values)).rows as R[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

const tables = async () => (await sql<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).map((r) => r.t);
const columns = async (table: string) =>
  (
    await sql<{ c: string; t: string; n: number | null }>(
      "SELECT column_name AS c, data_type AS t, character_maximum_length AS n FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
      [table],
    )
  ).map((r) => `${r.c} ${r.t}${r.n ? `(${r.n})` : ''}`);
const primaryKey = async (table: string) =>
  (
    await sql<{ c: string }>(
      `SELECT kcu.column_name AS c FROM information_schema.table_constraints tc
         JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name, table_name)
        WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public' AND tc.table_name = $1`,
      [table],
    )
  ).map((r) => r.c);

/**
 * How many Events of this reason an object got (an Event's count folds repeats), asserting that every one of them is
 * of `type`: a failure's Event is a Warning, a success's Normal.
 */
async function events(ns: string, name: string, reason: string, type: 'Normal' | 'Warning'): Promise<number> {
  const items = (await getJson<{ items: any[] }>(['events', '-n', ns, '--field-selector', `involvedObject.name=${name},reason=${reason}`]))!.items;
  expect(items.map((e) => `${e.reason} ${e.type}`), `${name}'s ${reason} Events`).toEqual(items.map(() => `${reason} ${type}`));
  return items.reduce((n, e) => n + (e.count ?? 1), 0);
}

const SEED_COLUMNS = ['user_id integer', 'user_name character varying(50)', 'user_email character varying(100)', 'signup_date date', 'last_login timestamp without time zone'];

describe('DatabaseTable operator on PostgreSQL', () => {
  let ns: string;
  let operator: OperatorProcess;
  let seed: { apiVersion: string; kind: string; metadata: Record<string, unknown>; spec: Record<string, any> };

  const dbt = (name: string) => getJson(['databasetable', name, '-n', ns]);
  const table = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'kopf.demo/v1', kind: 'DatabaseTable', metadata: { name, namespace: ns }, spec });
  const patch = (name: string, spec: Record<string, unknown>) => k(['patch', 'databasetable', name, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec })]);
  /** Ready with this status (and reason) for the object's current generation. */
  const settled = (name: string, status: 'True' | 'False', reason?: string, timeoutMs = 60_000) =>
    waitFor(`${name} Ready=${status}${reason ? ` ${reason}` : ''}`, async () => {
      const o = await dbt(name);
      const ready = readyCondition(o);
      return ready?.status === status && (!reason || ready.reason === reason) && ready.observedGeneration === o.metadata.generation && o;
    }, timeoutMs);
  /** How many Warning Events of this reason the object got; an Event of that reason of another type fails the test. */
  const warnings = (name: string, reason: string) => events(ns, name, reason, 'Warning');
  /** Waits for a first Warning Event of this reason (Events are posted after the status they go with); their count. */
  const warned = (name: string, reason: string) =>
    waitFor(`a ${reason} Warning Event on ${name}`, async () => {
      const n = await warnings(name, reason);
      return n > 0 && n;
    });

  beforeAll(async () => {
    await sql(`CREATE DATABASE ${escapeIdentifier(database)}`, [], adminUrl());
    seed = parse(await fs.readFile('lab/demo-databasetable.yaml', 'utf8'));
    ns = await createNamespace('e2e-dbtable');
    seed.metadata.namespace = ns;
    operator = startOperator(['--namespace', ns, 'databasetable'], { DATABASE_URL: dbUrl() });
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
    await sql(`DROP DATABASE IF EXISTS ${escapeIdentifier(database)} WITH (FORCE)`, [], adminUrl());
    await sql(`DROP ROLE IF EXISTS ${escapeIdentifier(`e2e_owner_${suffix}`)}`, [], adminUrl());
  });

  it("creates the seed's example as written: website_users with its five columns and user_id as key, the DDL in status", async () => {
    await applyObjects(seed);
    const done = await settled('website-users', 'True');
    expect(await columns('website_users')).toEqual(SEED_COLUMNS);
    expect(await primaryKey('website_users')).toEqual(['user_id']);
    expect(done.status.create_table.message).toMatch(/^CREATE TABLE "website_users" \("user_id" integer, .*PRIMARY KEY \("user_id"\)\); COMMENT ON TABLE/);
    expect(await events(ns, 'website-users', 'Created', 'Normal')).toBe(1);
    const listed = await k(['get', 'dbt', 'website-users', '-n', ns]);
    expect(listed.stdout).toMatch(/website-users\s+WEBSITE_USERS\s+True\s+CREATE TABLE/);
  });

  it('adds a column with ALTER TABLE … ADD COLUMN', async () => {
    await patch('website-users', { columns: [...seed.spec.columns, { COUNTRY: 'varchar(2)' }] });
    const done = await settled('website-users', 'True');
    expect(done.metadata.generation).toBe(2);
    expect(await columns('website_users')).toEqual([...SEED_COLUMNS, 'country character varying(2)']);
    expect(done.status.update_table.message).toBe('ALTER TABLE "website_users" ADD COLUMN "country" varchar(2)');
  });

  it('renames the table, keeping its rows', async () => {
    await sql("INSERT INTO website_users (user_id, user_name, user_email) VALUES (1, 'ann', 'a@x'), (2, 'bob', 'b@x')");
    await patch('website-users', { tableName: 'SITE_USERS' });
    const done = await settled('website-users', 'True');
    expect(done.status.update_table.message).toBe('ALTER TABLE "website_users" RENAME TO "site_users"');
    expect(await tables()).toEqual(['site_users']);
    expect(await sql('SELECT user_id FROM site_users ORDER BY 1')).toEqual([{ user_id: 1 }, { user_id: 2 }]);
  });

  it('changes the primary key by dropping the constraint and adding the new one', async () => {
    await patch('website-users', { primaryKey: 'USER_EMAIL' });
    const done = await settled('website-users', 'True');
    expect(done.status.update_table.message).toBe('ALTER TABLE "site_users" DROP CONSTRAINT "website_users_pkey"; ALTER TABLE "site_users" ADD PRIMARY KEY ("user_email")');
    expect(await primaryKey('site_users')).toEqual(['user_email']);
  });

  it('runs several changes in one transaction: when the last one fails none happens, and fixing the data lets all happen', async () => {
    await sql("INSERT INTO site_users (user_id, user_name, user_email) VALUES (3, 'dup', 'c@x'), (4, 'dup', 'd@x')");
    await patch('website-users', { tableName: 'MEMBERS', columns: [...seed.spec.columns, { COUNTRY: 'varchar(2)' }, { PHONE: 'text' }], primaryKey: 'USER_NAME' });
    const failed = await settled('website-users', 'False', 'HandlerFailed');
    expect(readyCondition(failed).message).toMatch(/could not create unique index.*Key \(user_name\)=\(dup\) is duplicated/);
    await warned('website-users', 'HandlerFailed');
    expect(await tables()).toEqual(['site_users']);
    expect(await columns('site_users')).not.toContain('phone text');
    expect(await primaryKey('site_users')).toEqual(['user_email']);

    await sql("UPDATE site_users SET user_name = 'dora' WHERE user_email = 'd@x'");
    const done = await settled('website-users', 'True');
    expect(done.status.update_table.message.split('; ')).toEqual([
      'ALTER TABLE "site_users" RENAME TO "members"',
      'ALTER TABLE "members" ADD COLUMN "phone" text',
      'ALTER TABLE "members" DROP CONSTRAINT "site_users_pkey"',
      'ALTER TABLE "members" ADD PRIMARY KEY ("user_name")',
    ]);
    expect(await tables()).toEqual(['members']);
    expect(await primaryKey('members')).toEqual(['user_name']);
  });

  it('refuses a removed column and a type change with UnsupportedChange naming the column, leaves the table untouched, and heals on revert', async () => {
    const spec = (await dbt('website-users')).spec;
    const before = await columns('members');
    await patch('website-users', { columns: spec.columns.filter((c: object) => !('SIGNUP_DATE' in c)) });
    const removed = await settled('website-users', 'False', 'UnsupportedChange');
    expect(readyCondition(removed).message).toBe('update_table: refused: column signup_date would be removed; table members was left untouched (revert the spec to heal)');
    expect(removed.status.conditions.find((c: any) => c.type === 'Stalled').status).toBe('True');

    await patch('website-users', { columns: spec.columns.map((c: object) => ('USER_NAME' in c ? { USER_NAME: 'varchar(80)' } : c)) });
    const retyped = await settled('website-users', 'False', 'UnsupportedChange');
    expect(readyCondition(retyped).message).toContain('column user_name would change type from varchar(50) to varchar(80)');
    expect(await columns('members')).toEqual(before);
    // Refused for good: one Warning per refused spec, no retry loop.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await warnings('website-users', 'UnsupportedChange')).toBe(2);

    await patch('website-users', { columns: spec.columns });
    const healed = await settled('website-users', 'True');
    expect(healed.status.kustomate?.progress).toBeUndefined();
    expect(await columns('members')).toEqual(before);
  });

  it('drops the table on delete, then the finalizer goes', async () => {
    await k(['delete', 'databasetable', 'website-users', '-n', ns, '--timeout=60s']);
    expect(await dbt('website-users')).toBeUndefined();
    expect(await tables()).toEqual([]);
  });

  it('refuses injection strings: the API server rejects bad names, the operator bad types (InvalidSpec), and nothing reaches the database', async () => {
    await sql('CREATE TABLE x (id integer)');
    const badName = await k(['apply', '-f', '-'], { reject: false, input: JSON.stringify(table('evil-name', { tableName: 'x; DROP TABLE x; --', columns: [{ ID: 'integer' }], primaryKey: 'ID' })) });
    expect(badName.exitCode).not.toBe(0);
    expect(badName.stderr).toContain('spec.tableName');
    const badColumn = await k(['apply', '-f', '-'], { reject: false, input: JSON.stringify(table('evil-column', { tableName: 'T', columns: [{ 'ID integer); DROP TABLE x; --': 'integer' }], primaryKey: 'ID' })) });
    expect(badColumn.exitCode).not.toBe(0);
    expect(badColumn.stderr).toContain('a column name is letters, digits and underscores');

    await applyObjects(table('evil-type', { tableName: 'EVIL', columns: [{ ID: 'integer); DROP TABLE x; --' }], primaryKey: 'ID' }));
    const refused = await settled('evil-type', 'False', 'InvalidSpec');
    expect(readyCondition(refused).message).toBe('spec.columns[0].ID: "integer); DROP TABLE x; --" is not a PostgreSQL type this operator accepts (a built-in type name, optionally with (length) or (precision, scale), "with time zone" and [])');
    expect(await tables()).toEqual(['x']);
    expect(await warned('evil-type', 'InvalidSpec')).toBe(1);
  });

  it('gives a second DatabaseTable claiming the same table Ready=False Conflict, and deleting it leaves the first one\'s table', async () => {
    await applyObjects(table('orders-a', { tableName: 'ORDERS', columns: [{ ID: 'bigint' }, { TOTAL: 'numeric(10,2)' }], primaryKey: 'ID' }));
    await settled('orders-a', 'True');
    await applyObjects(table('orders-b', { tableName: 'orders', columns: [{ ID: 'bigint' }], primaryKey: 'ID' }));
    const conflict = await settled('orders-b', 'False', 'Conflict');
    expect(readyCondition(conflict).message).toBe(`create_table: table orders belongs to DatabaseTable ${ns}/orders-a; this DatabaseTable does not take it over`);
    await warned('orders-b', 'Conflict');
    await k(['delete', 'databasetable', 'orders-b', '-n', ns, '--timeout=60s']);
    expect(await columns('orders')).toEqual(['id bigint', 'total numeric']);
    expect(readyCondition(await dbt('orders-a')).status).toBe('True');
  });

  it('connects through the Secret in spec.connectionSecretRef, retries a wrong password until the Secret is fixed, and shows the password nowhere', async () => {
    const owner = { name: `e2e_owner_${suffix}`, password: randomBytes(12).toString('hex') };
    const wrong = randomBytes(12).toString('hex');
    await sql(`CREATE ROLE ${escapeIdentifier(owner.name)} LOGIN PASSWORD ${escapeLiteral(owner.password)}`, [], adminUrl());
    await sql(`GRANT ALL ON SCHEMA public TO ${escapeIdentifier(owner.name)}`);
    const secret = (name: string, password: string) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: ns },
      stringData: { url: urlFor(adminUrl(), database, { name: owner.name, password }) },
    });
    await applyObjects(secret('db-owner', owner.password), secret('db-wrong', wrong));
    await applyObjects(
      table('owned', { tableName: 'OWNED', columns: [{ ID: 'uuid' }], primaryKey: 'ID', connectionSecretRef: { name: 'db-owner' } }),
      table('wrong', { tableName: 'WRONG', columns: [{ ID: 'uuid' }], primaryKey: 'ID', connectionSecretRef: { name: 'db-wrong' } }),
    );
    await settled('owned', 'True');
    expect(await sql("SELECT tableowner FROM pg_tables WHERE tablename = 'owned'")).toEqual([{ tableowner: owner.name }]);
    const refused = await settled('wrong', 'False', 'DatabaseUnavailable');
    expect(readyCondition(refused).message).toContain(`password authentication failed for user "${owner.name}"`);
    await warned('wrong', 'DatabaseUnavailable');

    const places = {
      status: JSON.stringify([await dbt('owned'), refused]),
      logs: operator.logs(),
      events: JSON.stringify(await getJson(['events', '-n', ns])),
    };
    for (const [where, text] of Object.entries(places)) {
      expect(text.includes(owner.password), `password in ${where}`).toBe(false);
      expect(text.includes(wrong), `wrong password in ${where}`).toBe(false);
    }
    // Not permanent: fixing the Secret is enough, without touching the DatabaseTable.
    await applyObjects(secret('db-wrong', owner.password));
    await settled('wrong', 'True', undefined, 90_000);
    expect(await tables()).toContain('wrong');
  });

  it('survives a database restart in the middle of its transaction, and every DatabaseTable ends Ready', async () => {
    await applyObjects(table('visits', { tableName: 'VISITS', columns: [{ ID: 'bigserial' }, { PATH: 'text' }], primaryKey: 'ID' }));
    await settled('visits', 'True');
    // Hold the table, so the operator's ALTER TABLE waits inside its transaction when the server goes away.
    const holder = new pg.Client({ connectionString: dbUrl() });
    holder.on('error', () => undefined);
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE visits IN ACCESS EXCLUSIVE MODE');
    await patch('visits', { columns: [{ ID: 'bigserial' }, { PATH: 'text' }, { SEEN_AT: 'timestamptz' }] });
    await waitFor('the operator waiting on the lock', async () =>
      (await sql("SELECT 1 FROM pg_stat_activity WHERE application_name = 'kustomate-databasetable' AND wait_event_type = 'Lock'")).length === 1,
    );

    await postgresStop(() => undefined);
    await holder.end().catch(() => undefined);
    try {
      // While it is down: a new DatabaseTable, and a deleted one whose table must still go.
      await applyObjects(table('pages', { tableName: 'PAGES', columns: [{ URL: 'text' }], primaryKey: 'URL' }));
      await k(['delete', 'databasetable', 'orders-a', '-n', ns, '--wait=false']);
      const cut = await settled('visits', 'False', 'DatabaseUnavailable');
      expect(readyCondition(cut).message).toMatch(/cannot reach PostgreSQL at 127\.0\.0\.1:\d+\/e2e_dbtable_/);
      await warned('visits', 'DatabaseUnavailable');
      await settled('pages', 'False', 'DatabaseUnavailable');
      expect((await dbt('orders-a'))?.metadata.finalizers).toEqual(['kustomate.io/finalizer']);
      await new Promise((r) => setTimeout(r, 3_000));
    } finally {
      await postgresStart(() => undefined);
    }

    await settled('visits', 'True', undefined, 90_000);
    await settled('pages', 'True', undefined, 90_000);
    await waitFor('orders-a gone', async () => (await dbt('orders-a')) === undefined, 90_000);
    expect(await columns('visits')).toEqual(['id bigint', 'path text', 'seen_at timestamp with time zone']);
    expect(await tables()).toEqual(['owned', 'pages', 'visits', 'wrong', 'x']);
  });

  it(`holds at most ${CONNECTIONS_PER_DATABASE} connections to the database at once when more DatabaseTables are created together`, async () => {
    const burst = Array.from({ length: CONNECTIONS_PER_DATABASE + 8 }, (_, i) => `burst-${i}`);
    // Every CREATE TABLE adds a row to pg_class: while pg_class is held, each create waits inside its connection.
    const holder = new pg.Client({ connectionString: dbUrl() });
    holder.on('error', () => undefined);
    await holder.connect();
    const waiting = async () => (await sql("SELECT 1 FROM pg_stat_activity WHERE application_name = 'kustomate-databasetable' AND wait_event_type = 'Lock'")).length;
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE pg_catalog.pg_class IN SHARE MODE');
      await applyObjects(...burst.map((name) => table(name, { tableName: name.toUpperCase().replace('-', '_'), columns: [{ ID: 'int' }], primaryKey: 'ID' })));
      await waitFor(`${CONNECTIONS_PER_DATABASE} creates waiting on the lock`, async () => (await waiting()) >= CONNECTIONS_PER_DATABASE, 8_000);
      // The rest stay in line, without a connection, for as long as the lock is held (under the 10 s lock_timeout).
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await waiting()).toBe(CONNECTIONS_PER_DATABASE);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end().catch(() => undefined);
    }
    for (const name of burst) await settled(name, 'True');
    expect((await tables()).filter((t) => t.startsWith('burst_'))).toHaveLength(burst.length);
  });
});

describe('a DatabaseTable that never reached a database', () => {
  it('is deleted at once: with no table created there is nothing to drop, and no database needed', async () => {
    const ns = await createNamespace('e2e-dbtable-nodb');
    // No DATABASE_URL: the operator has no database for DatabaseTables without a connectionSecretRef.
    const alone = startOperator(['--namespace', ns, 'databasetable'], { DATABASE_URL: '' });
    try {
      await applyObjects({ apiVersion: 'kopf.demo/v1', kind: 'DatabaseTable', metadata: { name: 'nowhere', namespace: ns }, spec: { tableName: 'nowhere', columns: [{ ID: 'integer' }], primaryKey: 'ID' } });
      const waiting = await waitFor('NoDatabase', async () => {
        const o = await getJson(['databasetable', 'nowhere', '-n', ns]);
        return readyCondition(o)?.reason === 'NoDatabase' && o;
      });
      expect(waiting.metadata.finalizers).toContain('kustomate.io/finalizer');
      await waitFor('a NoDatabase Warning Event', async () => (await events(ns, 'nowhere', 'NoDatabase', 'Warning')) > 0);
      await k(['delete', 'databasetable', 'nowhere', '-n', ns, '--timeout=30s'], { timeoutMs: 40_000 });
      expect(await getJson(['databasetable', 'nowhere', '-n', ns])).toBeUndefined();
    } finally {
      await deleteNamespace(ns);
      await alone.stop();
    }
  });
});

describe('npm start and the DatabaseTable operator', () => {
  /**
   * `npm start --once` on the test cluster, from a namespace demo without the lab Sample (as start.test.ts does:
   * a Sample that is Ready already would let --once stop the operator before it has started).
   */
  const start = async (env: Record<string, string>) => {
    await cleanNamespace('demo');
    return execa(process.execPath, ['scripts/start.ts', '--once'], {
      env: { KUBECONFIG: kubeconfig(), KUSTOMATE_KUBECTL: KUBECTL, KUSTOMATE_HEALTH_PORT: '0', DATABASE_URL: '', ...env },
      all: true,
      reject: false,
      timeout: 300_000,
    });
  };
  /** The operators the started process runs, from its structured "operator started" line. */
  const operators = (output: string) => output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.msg === 'operator started')?.operators;
  afterAll(() => cleanNamespace('demo'));

  it('runs it with a PostgreSQL, and without one runs the others and says how to get one', async () => {
    const withDb = await start({ DATABASE_URL: adminUrl() });
    expect(withDb.exitCode, withDb.all).toBe(0);
    expect(operators(withDb.all!)).toContain('databasetable');

    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-nodb-'));
    try {
      const without = await start({ KUSTOMATE_CACHE: empty });
      expect(without.exitCode, without.all).toBe(0);
      expect(operators(without.all!)).toEqual(['sample', 'database', 'gordon', 'mysql']);
      expect(without.all).toContain('run npm run postgres:up (or set DATABASE_URL)');
    } finally {
      await fs.rm(empty, { recursive: true, force: true });
    }
  });
});

describe('npm run postgres:up and postgres:down', () => {
  it('start a server in a folder of their own, print only the export line that eval takes, reuse it, then stop it and remove its files', async () => {
    // A cache folder of its own: the suite's shared server is never touched.
    const cache = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-pgscripts-'));
    const options = { env: { KUSTOMATE_CACHE: cache }, reject: false, timeout: 300_000 } as const;
    const npm = (script: string) => execa('npm', ['run', '--silent', script], options);
    try {
      // As the README says to use it: eval "$(npm run --silent postgres:up)".
      const evaluated = await execa('bash', ['-c', 'eval "$(npm run --silent postgres:up)" && printf %s "$DATABASE_URL"'], options);
      expect(evaluated.exitCode, evaluated.stderr).toBe(0);
      expect(evaluated.stderr).toContain('(new data folder)');
      const url = evaluated.stdout;
      expect(url).toMatch(/^postgresql:\/\/kustomate:[0-9a-f]+@127\.0\.0\.1:\d+\/postgres$/);
      expect(url).not.toBe(adminUrl());
      expect(await sql('SELECT 1 AS one', [], url)).toEqual([{ one: 1 }]);

      const again = await npm('postgres:up');
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stderr).toContain('reusing the running PostgreSQL');
      expect(again.stdout).toBe(`export DATABASE_URL=${url}`);

      const down = await npm('postgres:down');
      expect(down.exitCode, down.stderr).toBe(0);
      await expect(sql('SELECT 1', [], url)).rejects.toThrow(/ECONNREFUSED/);
      await expect(fs.stat(path.join(cache, 'postgres'))).rejects.toThrow(/ENOENT/);
    } finally {
      await npm('postgres:down');
      await fs.rm(cache, { recursive: true, force: true });
    }
  });
});
