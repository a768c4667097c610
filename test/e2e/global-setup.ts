// Why: one local control plane and one local PostgreSQL for the whole end-to-end suite: reuse running ones, or start
// them and remove them after.
import { execa } from 'execa';
import type { TestProject } from 'vitest/node';
import { clusterDown, clusterUp } from '../../lab/cluster/cluster.ts';
import { postgresDown, postgresUp } from '../../lab/postgres/postgres.ts';
import { KUBECONFIG, binPath } from '../../lab/cluster/versions.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    /** The local PostgreSQL's superuser URL (npm run postgres:up). */
    databaseUrl: string;
  }
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
  return async () => {
    if (!postgres.reused) await postgresDown(() => undefined);
    if (!reused) await clusterDown(log);
  };
}
