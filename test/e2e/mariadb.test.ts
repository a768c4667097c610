// The local MariaDB (npm run mariadb:up) is a real server: its client programs, run by their container names with
// `sh -c` and the env the setup provides, as the MySQL operator's Jobs run them, back up a database with mysqldump
// and restore it with mysql. A ready-made pattern for the operator's contract test.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mariadbUp, runningMariadb } from '../../lab/mariadb/mariadb.ts';

const mariadb = () => inject('mariadb');
/** The database the tests create; the backup Job gets it as MYSQL_DATABASE. */
const DATABASE = 'kustomate_e2e_backup';

/** A shell script as a container's `command: [sh, -c]` runs it, with the server's env plus the Job's own values. */
function sh(script: string, opts: { env?: Record<string, string>; input?: string } = {}) {
  return execa('sh', ['-c', script], { env: { ...mariadb().env, ...opts.env }, input: opts.input, timeout: 60_000, reject: false });
}

/** Rows of a query through the mysql client, tab-separated as `--batch` prints them. */
async function query(sql: string): Promise<string[][]> {
  const r = await sh('mysql --host="$MYSQL_HOST" --user=root --batch --skip-column-names', { input: sql });
  if (r.exitCode !== 0) throw new Error(`mysql failed: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((line) => line.split('\t'));
}

describe('the local MariaDB', () => {
  let backupDir: string;

  beforeAll(async () => {
    backupDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-mariadb-'));
    await query('DROP DATABASE IF EXISTS kustomate_e2e_backup');
  });

  afterAll(async () => {
    await query('DROP DATABASE IF EXISTS kustomate_e2e_backup').catch(() => undefined);
    await fs.rm(backupDir, { recursive: true, force: true });
  });

  it('runs mysql, mysqldump and mysqladmin by their container names, over TCP and over its socket', async () => {
    const which = await sh('for name in mysql mysqldump mysqladmin; do command -v "$name"; done');
    expect(which.stdout.split('\n')).toEqual(['mysql', 'mysqldump', 'mysqladmin'].map((n) => path.join(mariadb().binDir, n)));

    expect((await sh('mysqladmin --host="$MYSQL_HOST" --user=root --connect-timeout=5 ping')).exitCode).toBe(0);
    // No --host: the clients' default, localhost, is the Unix socket MYSQL_UNIX_PORT names.
    expect((await sh('mysqladmin --user=root --connect-timeout=5 ping')).exitCode).toBe(0);

    expect(await query('SELECT @@port, @@bind_address, CURRENT_USER()')).toEqual([[String(mariadb().port), '127.0.0.1', 'root@localhost']]);
  });

  it('refuses root with a wrong password', async () => {
    const r = await sh('mysql --host="$MYSQL_HOST" --user=root --execute="SELECT 1"', { env: { MYSQL_PWD: 'not-the-password' } });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/\b1045\b/); // ER_ACCESS_DENIED_ERROR
  });

  it('brings a dropped database back, rows and all, from a mysqldump restored with mysql < dump', async () => {
    await query(
      [
        'CREATE DATABASE kustomate_e2e_backup;',
        'CREATE TABLE kustomate_e2e_backup.users (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL);',
        "INSERT INTO kustomate_e2e_backup.users VALUES (1, 'ada'), (2, 'O''Brien'), (3, 'Zoë 🐬');",
      ].join('\n'),
    );
    const job = { MYSQL_DATABASE: DATABASE, BACKUP_DIR: backupDir };

    // The backup Job's commands.
    const backup = await sh(
      'set -eu\n' +
        'mysqldump --host="$MYSQL_HOST" --user=root --single-transaction --routines --databases "$MYSQL_DATABASE" >"$BACKUP_DIR/dump.sql.partial"\n' +
        'mv "$BACKUP_DIR/dump.sql.partial" "$BACKUP_DIR/dump.sql"',
      { env: job },
    );
    expect(backup.stderr).toBe('');
    expect(backup.exitCode).toBe(0);

    await query('DROP DATABASE kustomate_e2e_backup');
    expect(await query("SHOW DATABASES LIKE 'kustomate_e2e_backup'")).toEqual([]);

    const restore = await sh('mysql --host="$MYSQL_HOST" --user=root <"$BACKUP_DIR/dump.sql"', { env: job });
    expect(restore.stderr).toBe('');
    expect(restore.exitCode).toBe(0);
    expect(await query('SELECT id, name FROM kustomate_e2e_backup.users ORDER BY id')).toEqual([
      ['1', 'ada'],
      ['2', "O'Brien"],
      ['3', 'Zoë 🐬'],
    ]);
  });

  it('is reused by a second mariadbUp, with the same port and password', async () => {
    const again = await mariadbUp(() => undefined);
    expect(again.reused).toBe(true);
    expect([again.port, again.password]).toEqual([mariadb().port, mariadb().password]);
    expect(again.clientBin('mysqldump')).toMatch(/\/usr\/bin\/mysqldump$/);
    expect((await runningMariadb())?.port).toBe(mariadb().port);
  });
});
