// Why: `npm run cluster:down`: stop the local cluster and remove its files.
import { clusterDown } from './cluster.ts';

try {
  await clusterDown();
} catch (err) {
  console.error(`cluster:down failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
