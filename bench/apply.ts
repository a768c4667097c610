// Why: measure what kustomate adds to a bare `kubectl apply -k`, as ratios to a baseline timed in the same run.
// Run with the local cluster up: npm run cluster:up && npm run bench [-- ROUNDS]
import { execa } from 'execa';
import { pino } from 'pino';
import { DEFAULT_BASES_DIR } from '../src/kustomize/bases.ts';
import { createKubectlRunner } from '../src/kubectl/runner.ts';
import { createWorkdir } from '../src/kustomize/workdir.ts';
import { sample } from '../src/operators/sample/index.ts';
import { startOperators } from '../src/start.ts';
import { KUBECONFIG, binPath } from '../lab/cluster/versions.ts';
import { installSampleCrd } from './crd.ts';

const rounds = Number(process.argv[2] ?? 20);
const kubectlBin = binPath('kubectl');
const run = createKubectlRunner({ binary: kubectlBin, env: { KUBECONFIG } });
const k = (args: string[]) => execa(kubectlBin, ['--kubeconfig', KUBECONFIG, ...args], { timeout: 120_000 });
const ns = `bench-${process.pid}`;
const owner = (name: string) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', name, namespace: ns });
const spec = (name: string) => sample.render({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name, namespace: ns }, spec: { count: 1 } })[0]!.spec;
const applyKustomization = (dir: string) => run(['apply', '-k', dir]);

async function timed(label: string, fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(58)} ${(ms / rounds).toFixed(1).padStart(8)} ms per object`);
  return ms;
}

await installSampleCrd();
await k(['create', 'namespace', ns]);
try {
  // Baseline: folders rendered before the clock starts, one per object, each applied once (a shell loop).
  const ready = await Promise.all(Array.from({ length: rounds }, (_, i) => createWorkdir(spec(`b${i}`), owner(`b${i}`), { basesDir: DEFAULT_BASES_DIR })));
  const baseline = await timed('baseline: bare kubectl apply -k on ready folders', async () => {
    for (const wd of ready) if ((await applyKustomization(wd.dir)).exitCode !== 0) throw new Error('apply failed');
  });
  await Promise.all(ready.map((wd) => wd.cleanup()));

  // The work dir step alone: copy the base, write patches and kustomizations, apply, remove.
  const workdirs = await timed('kustomate work dir + apply -k, per object', async () => {
    for (let i = 0; i < rounds; i++) {
      const wd = await createWorkdir(spec(`w${i}`), owner(`w${i}`), { basesDir: DEFAULT_BASES_DIR });
      if ((await applyKustomization(wd.dir)).exitCode !== 0) throw new Error('apply failed');
      await wd.cleanup();
    }
  });

  // End to end: custom resources created at once, until every one is Ready (watch, queue, status, Events).
  const start = () => startOperators({ operators: [sample], basesDir: DEFAULT_BASES_DIR, namespaces: [ns], kubeconfig: KUBECONFIG, kubectl: kubectlBin, logger: pino({ level: 'error' }) });
  const first = await start();
  const endToEnd = await timed('kustomate operator: create Samples until all Ready', async () => {
    const items = Array.from({ length: rounds }, (_, i) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: `e${i}`, namespace: ns }, spec: { count: 1 } }));
    await execa(kubectlBin, ['--kubeconfig', KUBECONFIG, 'apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }), timeout: 120_000 });
    await k(['wait', '-n', ns, '--for=condition=Ready', 'samples', '--all', '--timeout=300s']);
  });
  await first.stop();

  // A restart with every Sample unchanged: it lists, reconciles each one, and must run no kubectl at all.
  const restarted = await start();
  await new Promise((r) => setTimeout(r, 5_000));
  await k(['wait', '-n', ns, '--for=condition=Ready', 'samples', '--all', '--timeout=60s']);
  const runs = restarted.manager.metrics.kubectlRuns.total();

  console.log(`\nratios to the baseline (same run, ${rounds} objects):`);
  console.log(`  work dir + apply -k:          ${(workdirs / baseline).toFixed(2)}x`);
  console.log(`  operator, end to end:         ${(endToEnd / baseline).toFixed(2)}x (4 at once, with status and Events)`);
  console.log(`restart with ${rounds} unchanged Samples: ${runs} kubectl processes`);
  await k(['delete', 'samples', '--all', '-n', ns, '--timeout=300s']);
  await restarted.stop();
} finally {
  await k(['delete', 'namespace', ns, '--wait=false']);
}
