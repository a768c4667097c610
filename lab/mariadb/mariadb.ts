// Why: a real MariaDB server for the MySQL operator's contract test, from Debian's own packages unpacked into the
// git-ignored cache (nothing installed on the system), listening on 127.0.0.1 only, with its client programs
// reachable by their container names (mysql, mysqldump, mysqladmin) through one environment.
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { CACHE_DIR } from '../cluster/versions.ts';

export const MARIADB_DIR = path.join(CACHE_DIR, 'mariadb');
/** The downloaded .deb files. */
const DEBS_DIR = path.join(MARIADB_DIR, 'debs');
/** The packages unpacked with dpkg-deb -x: root/usr/sbin/mariadbd, root/usr/bin/mariadb, ... */
const ROOT_DIR = path.join(MARIADB_DIR, 'root');
/** Written last when the packages are unpacked: the tree is complete. */
const STAMP_FILE = path.join(ROOT_DIR, '.kustomate-stamp.json');
/** The client programs under their container names, as symlinks into the unpacked tree; put first on PATH. */
const BIN_DIR = path.join(MARIADB_DIR, 'bin');
/** One server's files (data, socket, log, pid, port and password); `mariadbDown` removes exactly this. */
const SERVER_DIR = path.join(MARIADB_DIR, 'server');
const DATA_DIR = path.join(SERVER_DIR, 'data');
const TMP_DIR = path.join(SERVER_DIR, 'tmp');
const SOCKET = path.join(SERVER_DIR, 'mysqld.sock');
const PID_FILE = path.join(SERVER_DIR, 'mariadbd.pid');
const LOG_FILE = path.join(SERVER_DIR, 'mariadbd.log');
const SERVER_FILE = path.join(SERVER_DIR, 'server.json');

const HOST = '127.0.0.1';
const USER = 'root';

/**
 * What we unpack. `mariadb-client-core` has only `mariadb`/`mysql`; `mysqldump` and `mysqladmin` are in
 * `mariadb-client`, which is taken without its own dependencies (perl, for scripts we never run: its ELF programs
 * need nothing the core packages do not). The libraries are listed even when the system has them, so the tree
 * does not depend on what happens to be installed; `apt-get install --dry-run` adds whatever else this machine
 * lacks (on a fresh Debian: libnuma1, libedit2, ...).
 */
const PACKAGES = ['mariadb-server-core', 'mariadb-client-core', 'mariadb-client', 'libmariadb3', 'mariadb-common', 'mysql-common', 'liburing2', 'libaio1'];
const RESOLVED = ['mariadb-server-core', 'mariadb-client-core'];

/** The client programs linked into the bin folder, under MariaDB's names and the MySQL names containers use. */
export const CLIENT_PROGRAMS = [
  'mariadb', 'mysql', 'mariadb-dump', 'mysqldump', 'mariadb-admin', 'mysqladmin',
  'mariadb-check', 'mysqlcheck', 'mariadb-import', 'mysqlimport', 'mariadb-show', 'mysqlshow',
] as const;
export type ClientProgram = (typeof CLIENT_PROGRAMS)[number];

/** The system tables, as mariadb-install-db feeds them to `mariadbd --bootstrap` (no help tables, no test db). */
const BOOTSTRAP_FILES = ['mysql_system_tables.sql', 'mysql_performance_tables.sql', 'mysql_system_tables_data.sql', 'maria_add_gis_sp_bootstrap.sql', 'mysql_sys_schema.sql'];
/** Fixed statements around them: root at localhost alone, with a password login (set next), not unix_socket. */
const BOOTSTRAP_PROLOGUE = 'CREATE DATABASE IF NOT EXISTS mysql;\nUSE mysql;\nSET @auth_root_socket=NULL;\n';
const BOOTSTRAP_EPILOGUE = "\nDELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';\nDELETE FROM mysql.proxies_priv WHERE User = 'root' AND Host <> 'localhost';\n";

type Log = (line: string) => void;

/** What `initialise` created: the port (a new one when it is taken at a restart) and root's generated password. */
interface Server {
  port: number;
  password: string;
}

/** How to reach the server; plain data, so vitest can `provide` it to the tests. */
export interface MariadbConnection {
  host: typeof HOST;
  port: number;
  user: typeof USER;
  password: string;
  /** The Unix socket, inside the cache folder (clients use it for the host `localhost`). */
  socket: string;
  /** The folder of client program symlinks that `env.PATH` starts with. */
  binDir: string;
  /**
   * What the client programs need to run on the host as a container runs them, e.g. `sh -c 'mysqldump
   * --host="$MYSQL_HOST" --user=root ...'`: PATH (the bin folder first), LD_LIBRARY_PATH and MARIADB_PLUGIN_DIR (the
   * unpacked libraries), and the connection: MYSQL_HOST (127.0.0.1; only `mysql`/`mariadb` reads it, mysqldump and
   * mysqladmin take --host), MYSQL_TCP_PORT and MYSQL_PWD (read by every client), MYSQL_UNIX_PORT (the socket, so a
   * client with no --host, or --host=localhost, reaches this server too).
   */
  env: Record<string, string>;
}

export interface Mariadb extends MariadbConnection {
  /** The absolute path of an unpacked client program (`clientBin('mysqldump')`). */
  clientBin: (name: ClientProgram) => string;
}

export interface MariadbUpResult extends Mariadb {
  /** A server that was already running was reused (and `mariadbDown` is then someone else's business). */
  reused: boolean;
}

const isRoot = () => process.getuid?.() === 0;

// ---------------------------------------------------------------------------------------------------------------
// The packages

/** The unpacked tree's library folders (Debian's multiarch ones, in /usr/lib and /lib). */
function libDirs(): string[] {
  const dirs: string[] = [];
  for (const base of [path.join(ROOT_DIR, 'usr', 'lib'), path.join(ROOT_DIR, 'lib')]) {
    let names: string[] = [];
    try {
      names = readdirSync(base);
    } catch {
      continue;
    }
    for (const n of names.filter((n) => /-linux-gnu/.test(n)).sort()) dirs.push(path.join(base, n));
  }
  return dirs;
}

const pluginDir = () => libDirs().map((d) => path.join(d, 'libmariadb3', 'plugin')).find((d) => existsSync(d));

const installed = () => existsSync(STAMP_FILE);

/** The absolute path of an unpacked client program. */
export function clientBin(name: ClientProgram): string {
  if (!(CLIENT_PROGRAMS as readonly string[]).includes(name)) throw new Error(`"${name}" is not one of MariaDB's client programs (${CLIENT_PROGRAMS.join(', ')})`);
  const file = path.join(ROOT_DIR, 'usr', 'bin', name);
  if (!existsSync(file)) throw new Error(`${file} does not exist: MariaDB is not unpacked (npm run mariadb:up)`);
  return file;
}

const serverBin = () => path.join(ROOT_DIR, 'usr', 'sbin', 'mariadbd');

/** The environment of our own runs of mariadbd and its clients: none of the caller's MYSQL_* variables. */
function toolEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LD_LIBRARY_PATH: libDirs().join(':'), ...extra };
}

/** apt-get could not run at all: no apt-get (not Debian), or it timed out; an update would not help. */
class AptUnavailable extends Error {}

/** apt-get with the exit code to look at; LC_ALL=C, since its output is parsed. */
async function apt(args: string[], opts: { cwd?: string; timeoutMs: number }) {
  const r = await execa('apt-get', args, { cwd: opts.cwd, timeout: opts.timeoutMs, reject: false, all: true, env: { LC_ALL: 'C' } });
  if (r.timedOut) throw new AptUnavailable(`apt-get ${args[0]} did not finish within ${opts.timeoutMs / 1000} s`);
  if (r.exitCode === undefined) {
    throw new AptUnavailable(`MariaDB comes from Debian's packages and needs apt-get and dpkg-deb (a Debian bookworm machine): ${r.shortMessage}`);
  }
  return r;
}

/** What apt-get said went wrong: its `E:` lines, else its last line. */
const aptErrors = (output: string) => {
  const lines = output.split('\n').filter(Boolean);
  const errors = lines.filter((l) => l.startsWith('E:'));
  return (errors.length ? errors : lines.slice(-1)).join('\n');
};

/** The packages to fetch: ours, plus whatever else a minimal install would add on this machine. */
async function packageList(): Promise<string[]> {
  const r = await apt(['install', '--dry-run', '--no-install-recommends', '-q', ...RESOLVED], { timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw new Error(`apt-get install --dry-run ${RESOLVED.join(' ')} failed: ${aptErrors(r.all)}`);
  const missing = [...r.all.matchAll(/^Inst (\S+)/gm)].map((m) => m[1]!);
  return [...new Set([...PACKAGES, ...missing])];
}

/** `apt-get download` into a fresh debs folder; the package names and versions are apt's own candidates. */
async function download(packages: string[]): Promise<void> {
  await fs.rm(DEBS_DIR, { recursive: true, force: true });
  await fs.mkdir(DEBS_DIR, { recursive: true });
  // As root apt downloads as the `_apt` user, which may not write into the cache: then it downloads as root anyway.
  const sandbox = isRoot() ? ['-o', 'APT::Sandbox::User=root'] : [];
  const r = await apt([...sandbox, 'download', '-q', ...packages], { cwd: DEBS_DIR, timeoutMs: 300_000 });
  if (r.exitCode !== 0) throw new Error(`apt-get download ${packages.join(' ')} failed: ${aptErrors(r.all)}`);
}

/** Fetches the .deb files; stale or empty package lists get one `apt-get update` (as root) and a second try. */
async function fetchPackages(log: Log): Promise<string[]> {
  try {
    const packages = await packageList();
    await download(packages);
    return packages;
  } catch (err) {
    if (err instanceof AptUnavailable) throw err;
    if (!isRoot()) {
      throw new Error(`${(err as Error).message}\nThe package lists may be stale or empty: run "sudo apt-get update" once, then try again.`);
    }
    log(`apt-get could not fetch MariaDB (${(err as Error).message.replaceAll('\n', ' ')}); updating the package lists once`);
    const update = await apt(['update', '-q'], { timeoutMs: 300_000 });
    if (update.exitCode !== 0) throw new Error(`apt-get update failed: ${aptErrors(update.all)}`);
    try {
      const packages = await packageList();
      await download(packages);
      return packages;
    } catch (again) {
      throw new Error(`MariaDB's Debian packages could not be fetched even after apt-get update: ${(again as Error).message}`);
    }
  }
}

/**
 * The unpacked packages, reused while complete. They are fetched and unpacked into a temporary folder that
 * becomes `root/` in one rename, so a run that was interrupted leaves nothing half-done behind.
 */
export async function mariadbInstall(log: Log = console.error): Promise<void> {
  if (installed()) {
    if (!CLIENT_PROGRAMS.every((name) => existsSync(path.join(BIN_DIR, name)))) await linkClients();
    return;
  }
  const started = performance.now();
  log(`fetching MariaDB from Debian's packages into ${DEBS_DIR}`);
  const packages = await fetchPackages(log);
  const debs = (await fs.readdir(DEBS_DIR)).filter((f) => f.endsWith('.deb')).sort();
  const tmp = `${ROOT_DIR}.${process.pid}.tmp`;
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  try {
    for (const deb of debs) {
      const r = await execa('dpkg-deb', ['-x', path.join(DEBS_DIR, deb), tmp], { timeout: 120_000, reject: false, all: true });
      if (r.exitCode !== 0) throw new Error(`dpkg-deb -x ${deb} failed (dpkg-deb comes with every Debian): ${r.all || r.shortMessage}`);
    }
    if (!existsSync(path.join(tmp, 'usr', 'sbin', 'mariadbd'))) throw new Error(`the packages (${debs.join(', ')}) hold no usr/sbin/mariadbd`);
    await fs.writeFile(path.join(tmp, path.basename(STAMP_FILE)), JSON.stringify({ packages, debs }, null, 2));
    await fs.rm(ROOT_DIR, { recursive: true, force: true });
    await fs.rename(tmp, ROOT_DIR);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  await linkClients();
  log(`MariaDB unpacked into ${ROOT_DIR} in ${((performance.now() - started) / 1000).toFixed(1)} s (${debs.length} packages)`);
}

/** bin/mysql -> ../root/usr/bin/mysql, and so on: relative links, so the cache folder may move. */
async function linkClients(): Promise<void> {
  await fs.rm(BIN_DIR, { recursive: true, force: true });
  await fs.mkdir(BIN_DIR, { recursive: true });
  for (const name of CLIENT_PROGRAMS) {
    if (!existsSync(path.join(ROOT_DIR, 'usr', 'bin', name))) throw new Error(`the unpacked MariaDB has no usr/bin/${name}`);
    await fs.symlink(path.join('..', 'root', 'usr', 'bin', name), path.join(BIN_DIR, name));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The server

async function readServer(): Promise<Server | undefined> {
  try {
    return JSON.parse(await fs.readFile(SERVER_FILE, 'utf8')) as Server;
  } catch {
    return undefined;
  }
}

function connection(server: Server): Mariadb {
  const env: Record<string, string> = {
    PATH: [BIN_DIR, process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(':'),
    LD_LIBRARY_PATH: [...libDirs(), ...(process.env.LD_LIBRARY_PATH ? [process.env.LD_LIBRARY_PATH] : [])].join(':'),
    MYSQL_HOST: HOST,
    MYSQL_TCP_PORT: String(server.port),
    MYSQL_PWD: server.password,
    MYSQL_UNIX_PORT: SOCKET,
  };
  const plugins = pluginDir();
  if (plugins) env.MARIADB_PLUGIN_DIR = plugins;
  return { host: HOST, port: server.port, user: USER, password: server.password, socket: SOCKET, binDir: BIN_DIR, env, clientBin };
}

type Answer = 'yes' | 'denied' | 'no';

/** Whether the server answers `SELECT 1` as root with this password, over TCP or, while initialising, the socket. */
async function answers(password: string, via: { port: number } | 'socket'): Promise<Answer> {
  const target = via === 'socket' ? ['--protocol=SOCKET', `--socket=${SOCKET}`] : ['--protocol=TCP', `--host=${HOST}`, `--port=${via.port}`];
  const r = await execa(clientBin('mariadb'), ['--no-defaults', ...target, `--user=${USER}`, '--connect-timeout=3', '--batch', '--skip-column-names', '--execute=SELECT 1'], {
    env: toolEnv({ MYSQL_PWD: password }),
    extendEnv: false,
    timeout: 15_000,
    reject: false,
  });
  if (r.exitCode === 0 && r.stdout.trim() === '1') return 'yes';
  // 1045: access denied (the server is there, the password is not right).
  return /\b1045\b/.test(r.stderr) ? 'denied' : 'no';
}

/** The pid of our mariadbd when it is running (the pid file names a live mariadbd process). */
async function runningPid(): Promise<number | undefined> {
  const pid = Number((await fs.readFile(PID_FILE, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const comm = (await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
  if (comm !== 'mariadbd') return undefined;
  // An exited child not yet reaped (state Z) is gone.
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return / Z /.test(stat.replace(/^.*\)/, '')) ? undefined : pid;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, HOST, () => srv.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function logTail(lines = 20): Promise<string> {
  return (await fs.readFile(LOG_FILE, 'utf8').catch(() => '')).split('\n').slice(-lines - 1).join('\n');
}

/** mariadbd's options for our data folder; `--no-defaults` first, so no my.cnf of the system is read. */
function serverArgs(network: { port: number } | 'none'): string[] {
  const share = path.join(ROOT_DIR, 'usr', 'share', 'mysql');
  return [
    '--no-defaults',
    // mariadbd refuses to run as root unless told so. Running it as root, rather than unprivileged in a user
    // namespace as PostgreSQL does, needs no `unshare --user` (which containers often forbid) and leaves every file
    // owned by the user who owns the cache; the server listens on 127.0.0.1 and a socket in the cache only.
    ...(isRoot() ? ['--user=root'] : []),
    `--basedir=${path.join(ROOT_DIR, 'usr')}`,
    `--datadir=${DATA_DIR}`,
    `--tmpdir=${TMP_DIR}`,
    `--lc-messages-dir=${share}`,
    `--character-sets-dir=${path.join(share, 'charsets')}`,
    // No server plugins are unpacked; this keeps mariadbd away from a system install's plugins.
    `--plugin-dir=${path.join(ROOT_DIR, 'usr', 'lib', 'mysql', 'plugin')}`,
    `--socket=${SOCKET}`,
    `--pid-file=${PID_FILE}`,
    `--log-error=${LOG_FILE}`,
    // Debian's defaults for text: utf8mb4 on the server and, through its client config (which we do not read), on
    // every client. The server imposes its own character set on each new connection instead, so a client whose
    // locale says nothing (the C locale of a Job's shell) still stores any Unicode text, four-byte characters too.
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_general_ci',
    '--skip-character-set-client-handshake',
    // Small and gentle on a shared 2-core machine: a small buffer pool and redo log, no fsync per commit (a crash of
    // the machine may lose the last second: this is a test server), and threads rather than io_uring or Linux AIO,
    // which seccomp profiles of containers often forbid.
    '--innodb-buffer-pool-size=64M',
    '--innodb-log-file-size=16M',
    '--innodb-flush-log-at-trx-commit=2',
    '--innodb-use-native-aio=0',
    ...(network === 'none' ? ['--skip-networking'] : [`--bind-address=${HOST}`, `--port=${network.port}`]),
  ];
}

/**
 * Starts mariadbd on the data folder and waits until it answers with the password. mariadbd does not daemonise
 * itself: it is spawned detached and unreferenced, so it outlives this process (execa always awaits its child).
 */
async function startServer(server: Server, network: { port: number } | 'none', password = server.password): Promise<void> {
  if (Buffer.byteLength(SOCKET) > 107) throw new Error(`the socket path ${SOCKET} is longer than a Unix socket allows (107 bytes); set KUSTOMATE_CACHE to a shorter folder`);
  await fs.mkdir(TMP_DIR, { recursive: true });
  await fs.rm(SOCKET, { force: true });
  const logFile = await fs.open(LOG_FILE, 'a');
  let exited: string | undefined;
  try {
    const child = spawn(serverBin(), serverArgs(network), { env: toolEnv(), detached: true, stdio: ['ignore', logFile.fd, logFile.fd] });
    child.once('exit', (code, signal) => (exited = `mariadbd exited (${signal ?? `code ${code}`})`));
    child.once('error', (err) => (exited = `mariadbd could not be started: ${err.message}`));
    child.unref();
  } finally {
    await logFile.close();
  }
  const deadline = Date.now() + 60_000;
  const via = network === 'none' ? 'socket' : network;
  for (;;) {
    if (exited) throw new Error(`${exited}\n--- ${LOG_FILE}:\n${await logTail()}`);
    const answer = await answers(password, via);
    if (answer === 'yes') return;
    if (answer === 'denied') throw new Error(`the new mariadbd refuses root's password from ${SERVER_FILE}; npm run mariadb:down and try again`);
    if (Date.now() > deadline) throw new Error(`mariadbd did not answer within 60 s\n--- ${LOG_FILE}:\n${await logTail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** SIGTERM (mariadbd's clean shutdown) to our server, waiting until it is gone; SIGKILL after 60 s. */
async function stopServer(): Promise<boolean> {
  const pid = await runningPid();
  if (!pid) return false;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + 60_000;
  let killed = false;
  while (await runningPid()) {
    if (!killed && Date.now() > deadline) {
      signal('SIGKILL');
      killed = true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/**
 * A new data folder: the system tables from the unpacked SQL files through `mariadbd --bootstrap`, with root@localhost
 * only; then the server runs once on its socket alone (no TCP yet, while root has no password) and `mariadb-admin
 * password` sets the generated one, which mariadb-admin quotes itself. TCP from 127.0.0.1 logs in as
 * root@localhost: the server names loopback clients `localhost`.
 */
async function initialise(log: Log): Promise<Server> {
  await fs.rm(SERVER_DIR, { recursive: true, force: true });
  await fs.mkdir(DATA_DIR, { recursive: true, mode: 0o700 });
  await fs.mkdir(TMP_DIR, { recursive: true });
  await fs.chmod(SERVER_DIR, 0o700);
  log(`initialising a data folder in ${DATA_DIR}`);
  const share = path.join(ROOT_DIR, 'usr', 'share', 'mysql');
  const sql = [Buffer.from(BOOTSTRAP_PROLOGUE), ...(await Promise.all(BOOTSTRAP_FILES.map((f) => fs.readFile(path.join(share, f))))), Buffer.from(BOOTSTRAP_EPILOGUE)];
  const boot = await execa(serverBin(), [...serverArgs('none'), '--bootstrap', '--log-warnings=0', '--max_allowed_packet=8M', '--net_buffer_length=16K'], {
    input: Buffer.concat(sql),
    env: toolEnv(),
    extendEnv: false,
    timeout: 120_000,
    reject: false,
    all: true,
  });
  if (boot.exitCode !== 0) throw new Error(`mariadbd --bootstrap failed (${boot.exitCode === undefined ? boot.shortMessage : `exit code ${boot.exitCode}`}): ${boot.all}\n--- ${LOG_FILE}:\n${await logTail()}`);

  const server: Server = { port: await freePort(), password: randomBytes(18).toString('hex') };
  await startServer(server, 'none', '');
  try {
    const r = await execa(clientBin('mariadb-admin'), ['--no-defaults', '--protocol=SOCKET', `--socket=${SOCKET}`, `--user=${USER}`, 'password', server.password], {
      env: toolEnv({ MYSQL_PWD: '' }),
      extendEnv: false,
      timeout: 30_000,
      reject: false,
      all: true,
    });
    if (r.exitCode !== 0) throw new Error(`setting root's password failed: ${r.all || r.message}`);
  } finally {
    await stopServer();
  }
  await fs.writeFile(SERVER_FILE, JSON.stringify(server), { mode: 0o600 });
  return server;
}

/** Starts the server on its existing data folder, on its port or, when that is taken now, a new free one. */
export async function mariadbStart(log: Log = console.error): Promise<void> {
  const server = await readServer();
  if (!server) throw new Error(`no MariaDB data folder in ${SERVER_DIR}; npm run mariadb:up creates one`);
  if (!(await portIsFree(server.port))) {
    server.port = await freePort();
    await fs.writeFile(SERVER_FILE, JSON.stringify(server), { mode: 0o600 });
  }
  await startServer(server, { port: server.port });
  log(`MariaDB listening on ${HOST}:${server.port}`);
}

/** Stops the server (a clean shutdown) and keeps its data folder. */
export async function mariadbStop(log: Log = console.error): Promise<void> {
  if (await stopServer()) log('MariaDB stopped');
}

/**
 * Reuses the running server, or starts the existing data folder, or creates one (unpacking the packages first
 * when needed); returns how to reach it and run its clients.
 */
export async function mariadbUp(log: Log = console.error): Promise<MariadbUpResult> {
  let server = await readServer();
  if (server && installed()) {
    const answer = await answers(server.password, { port: server.port });
    if (answer === 'yes') {
      log(`reusing the running MariaDB on ${HOST}:${server.port}`);
      return { ...connection(server), reused: true };
    }
    const pid = await runningPid();
    if (pid && answer === 'denied') {
      throw new Error(`the running MariaDB (pid ${pid}) refuses root's password from ${SERVER_FILE} (was it changed?); npm run mariadb:down, then try again`);
    }
    if (pid) throw new Error(`a mariadbd (pid ${pid}) runs on ${DATA_DIR} but does not answer on ${HOST}:${server.port}; see ${LOG_FILE}, or npm run mariadb:down`);
  }
  const started = performance.now();
  await mariadbInstall(log);
  const fresh = !server || !existsSync(path.join(DATA_DIR, 'mysql'));
  if (fresh) server = await initialise(log);
  await mariadbStart(log);
  server = (await readServer())!;
  log(`MariaDB ready in ${((performance.now() - started) / 1000).toFixed(1)} s${fresh ? ' (new data folder)' : ''}`);
  return { ...connection(server), reused: false };
}

/** Stops the server and deletes its files (data, socket, log, password); the unpacked packages stay for next time. */
export async function mariadbDown(log: Log = console.error): Promise<void> {
  await mariadbStop(log);
  await fs.rm(SERVER_DIR, { recursive: true, force: true });
  log(`removed ${SERVER_DIR} (the unpacked packages stay in ${MARIADB_DIR})`);
}

/** A shell word: as it is when it holds nothing the shell would read, else in single quotes. */
const shellWord = (value: string) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`);

/**
 * The line `npm run mariadb:up` prints for `eval`: the connection variables, the bin folder first on PATH and the
 * unpacked libraries first on LD_LIBRARY_PATH (both keep what the shell had).
 */
export function exportLine(m: MariadbConnection): string {
  const vars = ['MYSQL_HOST', 'MYSQL_TCP_PORT', 'MYSQL_PWD', 'MYSQL_UNIX_PORT', 'MARIADB_PLUGIN_DIR'].filter((k) => m.env[k] !== undefined).map((k) => `${k}=${shellWord(m.env[k]!)}`);
  vars.push(`PATH=${shellWord(m.binDir)}:"$PATH"`, `LD_LIBRARY_PATH=${shellWord(libDirs().join(':'))}\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}`);
  return `export ${vars.join(' ')}`;
}

/** How to reach the local server when it is running and answers with its password. */
export async function runningMariadb(): Promise<Mariadb | undefined> {
  const server = await readServer();
  if (!server || !installed()) return undefined;
  return (await answers(server.password, { port: server.port })) === 'yes' ? connection(server) : undefined;
}
