// The MySQL operator's Jobs against a real server: the exact command, arguments and environment of the rendered
// backup, restore and password Jobs run on this host against the local MariaDB, with the backup volume mapped to a
// temporary folder, as the seed's flow does it: the test table and its two rows, a backup, the database dropped, a
// restore, the rows back.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { KubeObject } from '../../src/kube/api.ts';
import { createKubectlRunner } from '../../src/kubectl/runner.ts';
import { DEFAULT_BASES_DIR } from '../../src/kustomize/bases.ts';
import { renderSpec } from '../../src/kustomize/commands.ts';
import type { KustomizeSpec } from '../../src/kustomize/workdir.ts';
import { backupJobSpec, passwordJobSpec, restoreJobSpec } from '../../src/operators/mysql/index.ts';
import { KUBECTL } from './helpers.ts';

const mariadb = () => inject('mariadb');
const kubectl = createKubectlRunner({ binary: KUBECTL });
let work: string;
let seed: KubeObject;

/** The one container of a Job as the operator renders it for the seed's MySQL. */
async function container(spec: KustomizeSpec) {
  const { result } = await renderSpec({ kubectl, basesDir: DEFAULT_BASES_DIR }, spec, { apiVersion: seed.apiVersion, kind: seed.kind, name: seed.metadata.name, namespace: 'demo', uid: seed.metadata.uid }, await fs.mkdtemp(path.join(work, 'wd-')));
  expect(result.exitCode, result.stderr).toBe(0);
  const [job] = parseAllDocuments(result.stdout).map((d) => d.toJS());
  return job.spec.template.spec.containers[0] as { command: string[]; args: string[]; env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { name: string } } }> };
}

/**
 * Runs a Job's container on this host: its command and arguments as they are; its env as the kubelet would give it,
 * Secrets resolved from `secrets` (by Secret name), except what the host differs in: the server is 127.0.0.1 (the
 * Service's address here), and the backup volume's mount point is a folder.
 */
async function runJob(c: Awaited<ReturnType<typeof container>>, secrets: Record<string, string>, backupDir: string) {
  const env: Record<string, string> = { ...mariadb().env };
  for (const e of c.env) env[e.name] = e.valueFrom ? secrets[e.valueFrom.secretKeyRef.name]! : e.value!;
  env.MYSQL_HOST = '127.0.0.1';
  env.BACKUP_DIR = backupDir;
  const [file, ...first] = c.command;
  return execa(file!, [...first, ...c.args], { env, extendEnv: false, reject: false, timeout: 120_000, all: true });
}

/** Rows of a query, as root with the server's current password. */
async function query(sql: string, password = mariadb().password): Promise<string[][]> {
  const r = await execa('mysql', ['--host=127.0.0.1', '--user=root', '--batch', '--skip-column-names'], { env: { ...mariadb().env, MYSQL_PWD: password }, input: sql, timeout: 60_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`mysql failed: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
}

describe('MySQL Jobs against a real MariaDB', () => {
  let backupDir: string;
  let rootSecret: string;

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-contract-'));
    backupDir = await fs.mkdtemp(path.join(work, 'backup-'));
    const obj = parse(await fs.readFile('lab/demo-mysql.yaml', 'utf8')) as KubeObject;
    seed = { ...obj, metadata: { ...obj.metadata, namespace: 'demo', uid: '0c4f2a9e-5b7d-4d1e-9a3b-2f6e8d1c7a55' } };
    // The Secret the operator made for spec.password; here it holds the local server's root password.
    rootSecret = (await container(backupJobSpec(seed))).env.find((e) => e.name === 'MYSQL_PWD')!.valueFrom!.secretKeyRef.name;
    await query('DROP DATABASE IF EXISTS `otus-database`');
  });
  afterAll(async () => {
    await query('DROP DATABASE IF EXISTS `otus-database`').catch(() => undefined);
    await fs.rm(work, { recursive: true, force: true });
  });

  it('restores nothing, and succeeds, when the backup volume holds no backup yet', async () => {
    const r = await runJob(await container(restoreJobSpec(seed)), { [rootSecret]: mariadb().password }, backupDir);
    expect(r.exitCode, r.all).toBe(0);
    expect(await query("SHOW DATABASES LIKE 'otus-database'")).toEqual([]);
  });

  it("backs up the seed's test table, and brings its two rows back into a dropped database", async () => {
    await query(
      [
        'CREATE DATABASE `otus-database`;',
        'USE `otus-database`;',
        // The seed's own statements.
        'CREATE TABLE test ( id smallint unsigned not null auto_increment, name varchar(20) not null, constraint pk_example primary key (id) );',
        "INSERT INTO test ( id, name ) VALUES ( null, 'some data' );",
        "INSERT INTO test ( id, name ) VALUES ( null, 'some data-2' );",
      ].join('\n'),
    );
    const secrets = { [rootSecret]: mariadb().password };
    const backup = await runJob(await container(backupJobSpec(seed)), secrets, backupDir);
    expect(backup.exitCode, backup.all).toBe(0);
    expect((await fs.stat(path.join(backupDir, 'dump.sql'))).size).toBeGreaterThan(0);
    expect(await fs.readdir(backupDir)).toEqual(['dump.sql']);

    await query('DROP DATABASE `otus-database`');
    expect(await query("SHOW DATABASES LIKE 'otus-database'")).toEqual([]);

    const restore = await runJob(await container(restoreJobSpec(seed)), secrets, backupDir);
    expect(restore.exitCode, restore.all).toBe(0);
    expect(await query('SELECT id, name FROM `otus-database`.test ORDER BY id')).toEqual([
      ['1', 'some data'],
      ['2', 'some data-2'],
    ]);
  });

  it('keeps the last good backup when a backup fails (a wrong password)', async () => {
    const before = await fs.readFile(path.join(backupDir, 'dump.sql'), 'utf8');
    const failed = await runJob(await container(backupJobSpec(seed)), { [rootSecret]: 'not-the-password' }, backupDir);
    expect(failed.exitCode).not.toBe(0);
    expect(await fs.readFile(path.join(backupDir, 'dump.sql'), 'utf8')).toBe(before);
  });

  it('changes the root password from the old Secret to the new one, and succeeds again when it is set already', async () => {
    const from = { name: rootSecret, key: 'password' };
    const to = { name: 'new-root', key: 'password' };
    const job = await container(passwordJobSpec(seed, 'password-mysql-instance-test', from, to));
    const secrets = { [rootSecret]: mariadb().password, 'new-root': `n3w'pa"ss$word` };
    try {
      const changed = await runJob(job, secrets, backupDir);
      expect(changed.exitCode, changed.all).toBe(0);
      expect(await query('SELECT 1', secrets['new-root'])).toEqual([['1']]);
      await expect(query('SELECT 1')).rejects.toThrow(/1045/);
      // A pod that runs again (the Job retried it) finds the new password working, and succeeds.
      const again = await runJob(job, secrets, backupDir);
      expect(again.exitCode, again.all).toBe(0);
    } finally {
      // The local server keeps its own password for the next run: the same Job, the other way round.
      const back = await container(passwordJobSpec(seed, 'password-mysql-instance-back', to, from));
      const restored = await runJob(back, secrets, backupDir);
      expect(restored.exitCode, restored.all).toBe(0);
    }
    expect(await query('SELECT 1')).toEqual([['1']]);
  });
});
