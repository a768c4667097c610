// Why: one local control plane, one local PostgreSQL and one local MariaDB for the whole end-to-end suite: reuse
// running ones, or start them and remove them after.
import { execa } from 'execa';
import type { TestProject } from 'vitest/node';
import { clusterDown, clusterUp } from '../../lab/cluster/cluster.ts';
import { postgresDown, postgresUp } from '../../lab/postgres/postgres.ts';
import { mariadbDown, mariadbUp, type MariadbConnection } from '../../lab/mariadb/mariadb.ts';
import { KUBECONFIG, binPath } from '../../lab/cluster/versions.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    /** The local PostgreSQL's superuser URL (npm run postgres:up). */
    databaseUrl: string;
    /** The local MariaDB (npm run mariadb:up): its port and root password, and the env its client programs run with. */
    mariadb: MariadbConnection;
  }
}

/** The local MariaDB for the MySQL operator's contract test: reused, or started and, after the run, removed. */
export async function setupMariadb(project: TestProject): Promise<() => Promise<void>> {
  const mariadb = await mariadbUp((line) => process.stderr.write(`[mariadb] ${line}\n`));
  const { host, port, user, password, socket, binDir, env } = mariadb;
  project.provide('mariadb', { host, port, user, password, socket, binDir, env });
  return async () => {
    if (!mariadb.reused) await mariadbDown(() => undefined);
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => process.stderr.write(`[cluster] ${line}\n`);
  const { reused } = await clusterUp(log);
  // The CRDs are part of the product; every suite runs against the real ones.
  await execa(binPath('kubectl'), ['--kubeconfig', KUBECONFIG, 'apply', '--server-side', '--force-conflicts', '-f', 'crds/'], { timeout: 60_000 });
  await execa(binPath('kubectl'), ['--kubeconfig', KUBECONFIG, 'wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s'], { timeout: 70_000 });
  project.provide('kubeconfig', KUBECONFIG);
  const postgres = await postgresUp((line) => process.stderr.write(`[postgres] ${line}\n`));
  project.provide('databaseUrl', postgres.url);
  const mariadbTeardown = await setupMariadb(project);
  return async () => {
    await mariadbTeardown();
    if (!postgres.reused) await postgresDown(() => undefined);
    if (!reused) await clusterDown(log);
  };
}
