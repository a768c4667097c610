// Why: measure the operator process's memory (RSS) idle, while it reconciles a burst, after, and over 10,000 more
// reconciles of the same objects, against a bare Node.js process measured in the same run. Run with the local
// cluster up and dist/ built (npm ci builds it):
//   npm run cluster:up && npm run bench:memory [-- SAMPLES]
import { execa } from 'execa';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WORKDIR_PREFIX } from '../src/kustomize/workdir.ts';
import { KUBECONFIG, binPath } from '../lab/cluster/versions.ts';
import { installSampleCrd } from './crd.ts';
import { counterSum } from './metrics.ts';
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

/** A TCP port free right now, for the operator's health server (and its /metrics). */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

const bare = execa(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { reject: false });
await sleep(1000);
const bareMb = await rssMb(bare.pid!);
bare.kill();

await installSampleCrd();
await k(['create', 'namespace', ns]);
const healthPort = await freePort();
const operator = execa(process.execPath, [...NODE_FLAGS, path.resolve('dist/cli/main.js'), 'run', '--namespace', ns, '--health-port', String(healthPort), '--kubectl', kubectlBin, 'sample'], {
  env: { KUBECONFIG, KUSTOMATE_LOG_LEVEL: 'warn' },
  timeout: 1_800_000,
  reject: false,
});
const metric = (name: string) => counterSum(healthPort, name);

/** The count of reconciles once they stop coming for 2 s: the operator's queue is empty again. */
async function settled(): Promise<number> {
  let last = -1;
  for (let now = await metric('kustomate_reconciles_total'); now !== last; now = await metric('kustomate_reconciles_total')) {
    last = now;
    await sleep(2000);
  }
  return last;
}

/** The operator's work dirs still on disk (each apply makes one, and removes it once done). */
async function workDirsLeft(): Promise<number> {
  return (await fs.readdir(os.tmpdir())).filter((name) => name.startsWith(`${WORKDIR_PREFIX}-${operator.pid}-`)).length;
}

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

  // 10,000 more reconciles of the same objects: each round annotates every Sample (a change of metadata only, which
  // wakes a reconcile that finds nothing to apply), and changes the spec of a tenth of them (applied again, each in a
  // work dir of its own). Whatever the operator kept per reconcile, timer or work dir would show as growth.
  const churn: Array<{ reconciles: number; mb: number }> = [];
  // A round reconciles each Sample at least once; three times the rounds that takes is a round that wakes too little.
  const maxRounds = 3 * Math.ceil(10_000 / samples);
  const start = await metric('kustomate_reconciles_total');
  const applies0 = await metric('kustomate_kubectl_runs_total');
  for (let round = 1; churn.length === 0 || churn[churn.length - 1]!.reconciles < 10_000; round++) {
    const changed = items.slice(0, Math.ceil(samples / 10)).map((s) => ({ ...s, spec: { count: round % 2 === 1 ? 0 : 1 } }));
    await k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: changed }));
    await k(['annotate', 'samples', '--all', '-n', ns, '--overwrite', `bench.kustomate.io/round=${round}`]);
    churn.push({ reconciles: (await settled()) - start, mb: await rssMb(operator.pid!) });
    if (round > maxRounds) throw new Error(`10,000 reconciles not reached in ${maxRounds} rounds (${churn[churn.length - 1]!.reconciles})`);
  }
  const applied = (await metric('kustomate_kubectl_runs_total')) - applies0;

  const row = (label: string, mb: number) => console.log(`${label.padEnd(52)} ${mb.toFixed(0).padStart(5)} MB  ${(mb / bareMb).toFixed(2)}x bare node`);
  console.log(`${samples} Samples, ${new Date().toISOString().slice(0, 10)}`);
  row('bare node (an empty timer loop)', bareMb);
  row('operator idle, watching an empty namespace', idle);
  row(`operator peak while reconciling ${samples} Samples`, peak);
  row(`operator with ${samples} Samples applied, 5 s later`, after);
  for (const c of churn) row(`  then after ${c.reconciles} more reconciles`, c.mb);
  console.log(`over those reconciles: ${applied} kubectl runs, ${await workDirsLeft()} work dirs left on disk`);
} finally {
  // The namespace goes while the operator still runs: it removes its finalizers, so nothing is left behind.
  await k(['delete', 'namespace', ns, '--timeout=600s']).catch((err) => console.error(`namespace ${ns} not gone: ${(err as Error).message}`));
  operator.kill('SIGTERM');
  await operator;
}
