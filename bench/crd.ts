// Why: the benchmarks create Samples, so the Sample CRD must be installed first; `npm run cluster:up` gives a bare cluster.
import { execa } from 'execa';
import path from 'node:path';
import { KUBECONFIG, binPath } from '../lab/cluster/versions.ts';

/** Applies crds/samples.nuvolaris.org.yaml and waits until the API server serves the kind (Established). */
export async function installSampleCrd(): Promise<void> {
  const k = (args: string[]) => execa(binPath('kubectl'), ['--kubeconfig', KUBECONFIG, ...args], { timeout: 120_000 });
  await k(['apply', '--server-side', '-f', path.resolve('crds/samples.nuvolaris.org.yaml')]);
  await k(['wait', '--for=condition=Established', 'crd/samples.nuvolaris.org', '--timeout=60s']);
}
