// Why: `npm run cluster:up`: build if needed, start or reuse the local cluster, print the KUBECONFIG line.
import { clusterUp } from './cluster.ts';

try {
  const { kubeconfig } = await clusterUp();
  console.log(`\nThe cluster is up. Point kubectl and kustomate at it with:\n\n  export KUBECONFIG=${kubeconfig}\n`);
} catch (err) {
  console.error(`cluster:up failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
