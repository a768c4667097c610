// Why: measure the operator process's memory (RSS) idle, while it reconciles a burst, and after, against a bare
// Node.js process measured in the same run. Run with the local cluster up and dist/ built (npm ci builds it):
//   npm run cluster:up && npm run bench:memory [-- SAMPLES]
import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { KUBECONFIG, binPath } from '../lab/cluster/versions.ts';
import { installSampleCrd } from './crd.ts';
import { NODE_FLAGS } from '../src/cli/node-flags.ts';

const samples = Number(process.argv[2] ?? 100);
const kubectlBin = binPath('kubectl');
const k = (args: string[], input?: string) => execa(kubectlBin, ['--kubeconfig', KUBECONFIG, ...args], { timeout: 600_000, ...(input ? { input } : {}) });
const ns = `bench-mem-${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident set size of a process, in MB, from /proc (Linux). */
async function rssMb(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

const bare = execa(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { reject: false });
await sleep(1000);
const bareMb = await rssMb(bare.pid!);
bare.kill();

await installSampleCrd();
await k(['create', 'namespace', ns]);
const operator = execa(process.execPath, [...NODE_FLAGS, path.resolve('dist/cli/main.js'), 'run', '--namespace', ns, '--health-port', '0', '--kubectl', kubectlBin, 'sample'], {
  env: { KUBECONFIG, KUSTOMATE_LOG_LEVEL: 'warn' },
  timeout: 1_800_000,
  reject: false,
});
try {
  await sleep(5000);
  const idle = await rssMb(operator.pid!);
  let peak = idle;
  const sampler = setInterval(() => void rssMb(operator.pid!).then((mb) => (peak = Math.max(peak, mb)), () => {}), 200);
  const items = Array.from({ length: samples }, (_, i) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: `m${i}`, namespace: ns }, spec: { count: 1 } }));
  await k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  // Applied, not Ready: the local cluster's fake nodes hold 330 pods, so past that many Samples some never get Ready.
  for (const deadline = Date.now() + 900_000; ; await sleep(1000)) {
    const list = JSON.parse((await k(['get', 'samples', '-n', ns, '-o', 'json'])).stdout) as { items: Array<{ status?: { sample?: { message?: string } } }> };
    if (list.items.filter((s) => s.status?.sample?.message).length >= samples) break;
    if (Date.now() > deadline) throw new Error(`not every Sample was applied within 900 s`);
  }
  await sleep(5000);
  clearInterval(sampler);
  const after = await rssMb(operator.pid!);
  const row = (label: string, mb: number) => console.log(`${label.padEnd(52)} ${mb.toFixed(0).padStart(5)} MB  ${(mb / bareMb).toFixed(2)}x bare node`);
  console.log(`${samples} Samples, ${new Date().toISOString().slice(0, 10)}`);
  row('bare node (an empty timer loop)', bareMb);
  row('operator idle, watching an empty namespace', idle);
  row(`operator peak while reconciling ${samples} Samples`, peak);
  row(`operator with ${samples} Samples applied, 5 s later`, after);
} finally {
  // The namespace goes while the operator still runs: it removes its finalizers, so nothing is left behind.
  await k(['delete', 'namespace', ns, '--timeout=600s']).catch((err) => console.error(`namespace ${ns} not gone: ${(err as Error).message}`));
  operator.kill('SIGTERM');
  await operator;
}
