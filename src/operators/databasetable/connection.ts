// Why: where a DatabaseTable's database is (a Secret named in its spec, or the operator's default URL), one pg
// connection per reconcile (at most CONNECTIONS_PER_DATABASE at once), and what a failure means: a database that
// cannot be reached is retried, never fatal. The URL, and so the password, never goes into an error, a log line or
// a status.
import type pg from 'pg';
import { ApiError } from '../../kube/api.ts';
import { PermanentError, TemporaryError } from '../../operator/errors.ts';
import type { HandlerContext } from '../../operator/operator.ts';
import type { Table } from './spec.ts';

let defaultUrl: string | undefined;

/** The URL for DatabaseTables without spec.connectionSecretRef (`--database-url` / `DATABASE_URL`); checked here. */
export function setDefaultDatabaseUrl(url: string | undefined): void {
  const checked = url ? describeUrl(url, '--database-url (or DATABASE_URL)') : undefined;
  if (checked instanceof Error) throw checked;
  defaultUrl = url || undefined;
}

export function hasDefaultDatabaseUrl(): boolean {
  return defaultUrl !== undefined;
}

/** A database URL checked without echoing it: the host, port and database name, never the user or password. */
export function describeUrl(url: string, source: string): string | Error {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return new Error(`${source} is not a URL such as postgresql://user:password@host:5432/database`);
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') return new Error(`${source} must start with postgresql://`);
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

async function secretValue(ctx: HandlerContext<unknown>, ref: { name: string; key: string }): Promise<string> {
  const path = `/api/v1/namespaces/${encodeURIComponent(ctx.namespace)}/secrets/${encodeURIComponent(ref.name)}`;
  let secret: { data?: Record<string, string> };
  try {
    secret = await ctx.api.request('GET', path, { signal: ctx.signal });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new TemporaryError(`Secret ${ref.name} not found`, undefined, 'SecretNotFound');
    // kustomate reads no Secret unless the namespace allows it (the kustomate-secret-reader ClusterRole, bound there).
    if (err instanceof ApiError && err.status === 403) {
      throw new TemporaryError(
        `kustomate may not read Secrets in namespace ${ctx.namespace}: kubectl -n ${ctx.namespace} create rolebinding kustomate-secret-reader --clusterrole=kustomate-secret-reader --serviceaccount=<kustomate's namespace>:kustomate`,
        undefined,
        'SecretForbidden',
      );
    }
    throw err;
  }
  const value = secret.data?.[ref.key];
  if (value === undefined) throw new TemporaryError(`Secret ${ref.name} has no key ${ref.key}`, undefined, 'SecretNotFound');
  return Buffer.from(value, 'base64').toString('utf8').trim();
}

/** The URL to use and a description of it that is safe to show. */
async function locate(ctx: HandlerContext<unknown>, table: Table): Promise<{ url: string; where: string }> {
  const source = table.secretRef ? `key ${table.secretRef.key} of Secret ${table.secretRef.name}` : 'the operator\'s --database-url';
  const url = table.secretRef ? await secretValue(ctx, table.secretRef) : defaultUrl;
  if (url === undefined) {
    throw new TemporaryError('no database: set spec.connectionSecretRef, or start the operator with --database-url (or DATABASE_URL)', undefined, 'NoDatabase');
  }
  const where = describeUrl(url, source);
  if (where instanceof Error) throw new TemporaryError(where.message, undefined, 'InvalidConnection');
  return { url, where };
}

/** Network errors, and PostgreSQL's connection, shutdown, login and missing-database SQLSTATEs. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', '57P01', '57P02', '57P03', '53300', '28000', '28P01', '3D000']);

/** Whether an error means the database could not be reached (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
export function unreachable(err: unknown): boolean {
  const code = String((err as { code?: unknown } | undefined)?.code ?? '');
  if (UNREACHABLE_CODES.has(code) || code.startsWith('08')) return true;
  return /Connection terminated|connection timeout|timeout expired/i.test((err as Error | undefined)?.message ?? '');
}

/**
 * The most connections this process holds to one database at once. PostgreSQL refuses clients past its
 * max_connections (100 by default, https://www.postgresql.org/docs/current/runtime-config-connection.html), a limit
 * every client of the server shares, and a burst of DatabaseTables reconciled at once would otherwise open one each.
 */
export const CONNECTIONS_PER_DATABASE = 16;

/** At most `size` holders at once; the others wait in turn, or stop waiting when their signal aborts. */
export class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly size: number;

  constructor(size: number) {
    this.size = size;
  }

  get idle(): boolean {
    return this.used === 0 && this.waiting.length === 0;
  }

  /** Waits for a slot; resolves with the function that gives it back. */
  async take(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.used < this.size) this.used++;
    else {
      await new Promise<void>((resolve, reject) => {
        const turn = () => {
          signal?.removeEventListener('abort', leave);
          resolve();
        };
        const leave = () => {
          this.waiting.splice(this.waiting.indexOf(turn), 1);
          reject(signal!.reason);
        };
        this.waiting.push(turn);
        signal?.addEventListener('abort', leave, { once: true });
      });
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      // The slot passes straight to the next in line, or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.used--;
    };
  }
}

const slots = new Map<string, Slots>();

/**
 * Connects to the table's database, runs `fn`, and always disconnects. An unreachable database becomes
 * TemporaryError(DatabaseUnavailable); other database errors (a lock held too long, data that breaks a new key)
 * are retried with the usual backoff; the handler's abort signal closes the connection.
 */
export async function withDatabase<T>(ctx: HandlerContext<unknown>, table: Table, fn: (db: pg.Client, where: string) => Promise<T>): Promise<T> {
  const { url, where } = await locate(ctx, table);
  let mine = slots.get(url);
  if (!mine) slots.set(url, (mine = new Slots(CONNECTIONS_PER_DATABASE)));
  const release = await mine.take(ctx.signal);
  try {
    return await connected(ctx, url, where, fn);
  } finally {
    release();
    if (mine.idle) slots.delete(url);
  }
}

/** withDatabase, once it holds one of the database's slots. */
async function connected<T>(ctx: HandlerContext<unknown>, url: string, where: string, fn: (db: pg.Client, where: string) => Promise<T>): Promise<T> {
  // Loaded on first use: an operator process without DatabaseTables never holds the driver in memory.
  const { default: driver } = await import('pg');
  const client = new driver.Client({
    connectionString: url,
    application_name: 'kustomate-databasetable',
    connectionTimeoutMillis: 10_000,
    lock_timeout: 10_000,
    statement_timeout: 30_000,
  });
  // A connection lost while idle is reported as an event; without a listener it would end the process.
  client.on('error', (err) => ctx.logger.debug({ where, error: err.message }, 'database connection lost'));
  const close = () => void client.end().catch(() => undefined);
  ctx.signal.addEventListener('abort', close, { once: true });
  try {
    await client.connect();
    return await fn(client, where);
  } catch (err) {
    if (ctx.signal.aborted || err instanceof PermanentError || err instanceof TemporaryError) throw err;
    const { message, detail } = err as { message?: string; detail?: string };
    if (unreachable(err)) throw new TemporaryError(`cannot reach PostgreSQL at ${where}: ${message}`, undefined, 'DatabaseUnavailable');
    throw new Error(`PostgreSQL at ${where}: ${message}${detail ? ` (${detail})` : ''}`);
  } finally {
    ctx.signal.removeEventListener('abort', close);
    close();
  }
}

/** Runs `fn` in one transaction: all of its statements happen, or none. */
export async function inTransaction<T>(db: pg.Client, fn: () => Promise<T>): Promise<T> {
  await db.query('BEGIN');
  try {
    const result = await fn();
    await db.query('COMMIT');
    return result;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
