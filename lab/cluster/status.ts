// Why: `npm run cluster:status`: is the local cluster there, is it answering, and what does it hold.
import { clusterState, kubectl } from './cluster.ts';
import { CLUSTER_NAME } from './versions.ts';

const state = await clusterState();
if (!state.exists) {
  console.log(`no cluster "${CLUSTER_NAME}"; start one with: npm run cluster:up`);
  process.exitCode = 1;
} else if (!state.running) {
  console.log(`cluster "${CLUSTER_NAME}" exists but its API server does not answer; restart it with: npm run cluster:up`);
  process.exitCode = 1;
} else {
  console.log(`cluster "${CLUSTER_NAME}" is running\n  export KUBECONFIG=${state.kubeconfig}\n`);
  const nodes = await kubectl(['get', 'nodes', '-o', 'wide']);
  console.log(nodes.stdout || nodes.stderr);
}
