// Why: kustomate side by side with its peers on the local control plane, in one run, as ratios: kopf running the
// Nuvolaris demo2 operator made fair (bench/peers/demo2_fair.py), and bare sequential `kubectl apply -k`. A benchmark,
// never a test: npm run bench:peers [-- --rounds R 50 200 1000]. Each peer's burst runs on a freshly started local
// cluster (this deletes and re-creates it, as cluster:down and cluster:up do), given the same warm-up (a burst of 200
// Samples with no operator), so every peer meets the same API server and none inherits what an earlier one left.
import { execa, type ResultPromise } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { connect } from '../src/kube/config.ts';
import { ApiError, KubeApi } from '../src/kube/api.ts';
import { DEFAULT_BASES_DIR } from '../src/kustomize/bases.ts';
import { createWorkdir } from '../src/kustomize/workdir.ts';
import { sample } from '../src/operators/sample/index.ts';
import { CACHE_DIR, KUBECONFIG, binPath } from '../lab/cluster/versions.ts';
import { clusterDown, clusterUp } from '../lab/cluster/cluster.ts';
import { installSampleCrd } from './crd.ts';
import { NODE_FLAGS } from '../src/cli/node-flags.ts';
import { counterSum } from './metrics.ts';

const USAGE = 'usage: npm run bench:peers -- [--rounds R] [N ...]   (default: 1 round of 50 200 1000)';
/** The command line: sizes of the bursts, and how many rounds of every peer at each size. */
function parseArgs(args: string[]): { sizes: number[]; rounds: number } {
  const whole = (text: string | undefined, what: string): number => {
    const n = Number(text);
    if (!text || !/^\d+$/.test(text) || n < 1) throw new Error(`${what} must be a whole number ≥ 1, not ${JSON.stringify(text ?? '')}\n${USAGE}`);
    return n;
  };
  const sizes: number[] = [];
  let rounds = 1;
  let roundsGiven = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg === '--rounds' || arg.startsWith('--rounds=')) {
      if (roundsGiven) throw new Error(`--rounds given twice\n${USAGE}`);
      roundsGiven = true;
      rounds = whole(arg === '--rounds' ? args[++i] : arg.slice('--rounds='.length), '--rounds');
    } else if (/^-\D/.test(arg)) throw new Error(`unknown option ${arg}\n${USAGE}`);
    else sizes.push(whole(arg, 'a burst size'));
  }
  return { sizes: sizes.length ? [...new Set(sizes)] : [50, 200, 1000], rounds };
}
const { sizes, rounds: ROUNDS } = (() => {
  try {
    return parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
})();
const KOPF_VERSION = '1.45.2';
const BENCH_DIR = path.join(CACHE_DIR, 'bench');
const VENV = path.join(BENCH_DIR, 'kopf-venv');
const COUNT_FILE = path.join(BENCH_DIR, 'kubectl-runs');
const SHIM = path.resolve('bench/peers/kubectl-count.sh');
const kubectlBin = binPath('kubectl');
/** Set by freshCluster(), which every burst and the single-Sample part start with; each cluster has new certificates. */
let api!: KubeApi;

/** The machine's CPU time so far, and how much of it was idle (the first line of /proc/stat, in clock ticks). */
async function cpuTicks(): Promise<{ total: number; idle: number }> {
  const fields = (await fs.readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: idle and iowait are the idle ones.
  return { total: fields.reduce((a, b) => a + b, 0), idle: fields[3]! + fields[4]! };
}

/**
 * Waits until the machine has been at least 90 % idle for two seconds in a row (at most a minute): after the warm-up
 * the controllers may still be collecting its ReplicaSets and Pods, and a peer measured then would pay for it.
 */
async function machineQuiet(): Promise<void> {
  const deadline = Date.now() + 60_000;
  let calm = 0;
  while (calm < 2 && Date.now() < deadline) {
    const a = await cpuTicks();
    await sleep(1_000);
    const b = await cpuTicks();
    calm = (b.idle - a.idle) / Math.max(1, b.total - a.total) >= 0.9 ? calm + 1 : 0;
  }
  if (calm < 2) console.error('the machine did not become idle within a minute: the next peer is measured on a busy machine');
}

/**
 * Deletes the local cluster and starts it afresh, with the Sample CRD, warmed up, on an idle machine. A
 * kube-apiserver's memory, and the time it takes for the same burst, grow with each burst it has served (its watch
 * cache, an hour of Events): a peer measured after the others would pay for their load.
 */
async function freshCluster(): Promise<void> {
  // Quiet unless it fails: what clusterUp prints then (kwokctl's output, the components' logs) goes to stderr.
  const log: string[] = [];
  await clusterDown((line) => log.push(line));
  try {
    await clusterUp((line) => log.push(line));
  } catch (err) {
    console.error(log.join('\n'));
    throw err;
  }
  await installSampleCrd();
  api = new KubeApi(connect({ kubeconfig: KUBECONFIG }).access);
  await warmUp();
  await machineQuiet();
}

/** How many Samples, and Deployments of theirs, a fresh cluster serves before a peer is measured on it. */
const WARM_UP = 200;

/**
 * A burst with no operator: WARM_UP Samples created at once, and their Deployments applied by one kubectl until they
 * are Available; then the namespace goes. A kube-apiserver that has just started is slow too: on the 2-core machine
 * its first burst of 200 Samples took kustomate 13.3 s, the next two 10.8 and 10.1 s.
 */
async function warmUp(): Promise<void> {
  const ns = `peers-warm-up-${process.pid}`;
  await k(['create', 'namespace', ns]);
  await createAtOnce(ns, WARM_UP);
  const dirs = await Promise.all(samples(ns, WARM_UP).map(workdirOf));
  const parent = await fs.mkdtemp(path.join(os.tmpdir(), 'peers-warm-up-'));
  try {
    await fs.writeFile(path.join(parent, 'kustomization.yaml'), stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: dirs.map((d) => path.relative(parent, d.dir)) }));
    await k(['apply', '--server-side', '-k', parent]);
    await k(['wait', '--for=condition=Available', 'deployments', '--all', '-n', ns, '--timeout=300s']);
  } finally {
    await Promise.all(dirs.map((d) => d.cleanup()));
    await fs.rm(parent, { recursive: true, force: true });
  }
  await k(['delete', 'namespace', ns, '--timeout=900s']);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The middle value; with an even count, the mean of the two middle ones. */
function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
const k = (args: string[], input?: string) => execa(kubectlBin, ['--kubeconfig', KUBECONFIG, ...args], { timeout: 900_000, ...(input ? { input } : {}) });
const shimEnv = { KUBECONFIG, REAL_KUBECTL: kubectlBin, KUBECTL_COUNT: COUNT_FILE };

/** kopf from PyPI into a virtualenv under .cache/, once. */
async function kopf(): Promise<string> {
  const bin = path.join(VENV, 'bin', 'kopf');
  if (await fs.access(bin).then(() => true, () => false)) return bin;
  console.error(`installing kopf ${KOPF_VERSION} into ${VENV}`);
  await execa('python3', ['-m', 'venv', VENV], { timeout: 120_000 });
  await execa(path.join(VENV, 'bin', 'pip'), ['install', '--quiet', `kopf==${KOPF_VERSION}`], { timeout: 600_000, stdio: 'inherit' });
  return bin;
}

/** CPU seconds of a process and of the children it waited for (/proc/PID/stat utime, stime, cutime, cstime). */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await fs.readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  // Clock ticks of 1/100 s (USER_HZ on Linux); fields 14 to 17 of the file, after the pid and the name.
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) / 100;
}

/** Peak resident set size of a process so far, in MB (/proc/PID/status VmHWM). */
async function peakRssMb(pid: number): Promise<number> {
  return Number(/VmHWM:\s+(\d+) kB/.exec(await fs.readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

const kubectlRuns = async () => (await fs.readFile(COUNT_FILE, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

const samples = (ns: string, n: number, prefix = 's') =>
  Array.from({ length: n }, (_, i) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: `${prefix}-${i}`, namespace: ns }, spec: { count: 1 } }));

/** A Sample's work dir as kustomate builds it, for bare kubectl (no uid, so no ownerReferences). */
const workdirOf = (s: ReturnType<typeof samples>[number]) =>
  createWorkdir(sample.render(s)[0]!.spec, { apiVersion: s.apiVersion, kind: s.kind, name: s.metadata.name, namespace: s.metadata.namespace }, { basesDir: DEFAULT_BASES_DIR });

/**
 * Creates n Samples at once: CREATE_AT_ONCE requests in flight until all are made. One `kubectl apply -f` of a list
 * would send them one after another, each a GET and a POST, and the burst would arrive over seconds, paced by that
 * client rather than by the operator under test.
 */
const CREATE_AT_ONCE = 32;

/**
 * One create, tried again as any client would when a loaded API server answers 429 or 5xx ("resource quota
 * evaluation timed out" while kopf runs a thousand kubectl processes) or does not answer in time; a 409 after such
 * an attempt means the first one went through.
 */
async function createOne(ns: string, sample: ReturnType<typeof samples>[number]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await api.request('POST', `/apis/nuvolaris.org/v1/namespaces/${ns}/samples`, { body: sample });
      return;
    } catch (err) {
      const status = err instanceof ApiError ? err.status : undefined;
      if (status === 409 && attempt > 1) return;
      const again = status === undefined ? (err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError' : status === 429 || status >= 500;
      if (!again || attempt >= 5) throw err;
      await sleep(500 * attempt);
    }
  }
}
async function createAtOnce(ns: string, n: number): Promise<void> {
  const pending = samples(ns, n);
  const worker = async () => {
    for (let s = pending.shift(); s; s = pending.shift()) await createOne(ns, s);
  };
  await Promise.all(Array.from({ length: CREATE_AT_ONCE }, worker));
}

type Watched = { type?: string; object?: { metadata?: { name?: string; resourceVersion?: string }; status?: Record<string, { message?: string }> } };

/**
 * Opens a watch on a namespace's Samples, and gives back a promise of the moment each of `names` was first seen with
 * its kubectl output in status (`field`: the handler's result). A watch sees that write one round-trip after it
 * happens; polling a list would add half its period, and load the API server with lists meanwhile. The API server
 * ends a watch when it likes: it is opened again from the last resourceVersion seen, or from a new list after a 410.
 */
async function whenApplied(ns: string, names: string[], field: string, query: Record<string, string | number> = {}): Promise<{ at: Promise<number>; seen: Map<string, number> }> {
  const waiting = new Set(names);
  // When each object was first seen at all: for a create, one watch round-trip after it was sent.
  const seen = new Map<string, number>();
  const path = `/apis/nuvolaris.org/v1/namespaces/${ns}/samples`;
  let rv: string | undefined;
  /** One object as seen now; true once every one of `names` has been applied. */
  const saw = (obj: Watched['object']): boolean => {
    const name = obj?.metadata?.name;
    rv = obj?.metadata?.resourceVersion ?? rv;
    if (name && !seen.has(name)) seen.set(name, performance.now());
    if (name && obj?.status?.[field]?.message) waiting.delete(name);
    return waiting.size === 0;
  };
  const open = async (stop: AbortController) =>
    api.stream(path, { query: { watch: 1, timeoutSeconds: 1800, allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}), ...query }, signal: stop.signal });
  let stop = new AbortController();
  let lines = await open(stop);
  const deadline = performance.now() + 1_800_000;
  // Wrapped: an async function that returned the promise itself would be one that waits for it.
  const at = (async () => {
    while (performance.now() < deadline) {
      let done: number | undefined;
      let relist = false;
      try {
        // Each stop ends the loop by the abort it causes (a loop left early would leave that error unheard).
        for await (const line of lines) {
          if (stop.signal.aborted) continue;
          const event = JSON.parse(line) as Watched & { object?: { code?: number } };
          if (event.type === 'ERROR') {
            if (event.object?.code !== 410) throw new Error(`watch of ${ns}'s Samples failed: ${line}`);
            relist = true;
            stop.abort();
          } else if (saw(event.object)) {
            done = performance.now();
            stop.abort();
          }
        }
      } catch (err) {
        if (!stop.signal.aborted) throw err;
      }
      if (done !== undefined) return done;
      if (relist) {
        // Too old a resourceVersion: what happened meanwhile comes from a list.
        const list = await api.request<{ metadata: { resourceVersion: string }; items: Watched['object'][] }>('GET', path, { query });
        const all = list.items.map(saw).some(Boolean);
        rv = list.metadata.resourceVersion;
        if (all) return performance.now();
      }
      stop = new AbortController();
      lines = await open(stop);
    }
    throw new Error(`${waiting.size} of ${ns}'s Samples were not applied within 30 min`);
  })();
  // Read by the caller once its creates are done; an early failure is thrown there, not as an unhandled rejection.
  at.catch(() => undefined);
  return { at, seen };
}

/** Creates the Samples at once and times them until each has its kubectl output in status. */
async function burst(ns: string, n: number, field: string): Promise<{ wall: number; created: number }> {
  const applied = await whenApplied(ns, samples(ns, n).map((s) => s.metadata.name), field);
  const t0 = performance.now();
  await createAtOnce(ns, n);
  const created = (performance.now() - t0) / 1000;
  return { wall: ((await applied.at) - t0) / 1000, created };
}

interface Row {
  peer: string;
  n: number;
  wall: number;
  /** Seconds until the API server had taken every Sample (a burst only). */
  created?: number;
  cpu?: number;
  rss?: number;
  runs: number;
}

const BARE = 'bare kubectl apply -k, in sequence';
const KOPF = `kopf ${KOPF_VERSION}, demo2 made fair`;

/** One operator process on a fresh namespace: a burst of n Samples, measured from the outside. */
async function measure(
  peer: string,
  n: number,
  start: (ns: string) => ResultPromise,
  field: string,
  ready: (p: ResultPromise, out: () => string) => Promise<void>,
  runs: (out: () => string) => Promise<number> = kubectlRuns,
): Promise<{ row: Row; ns: string; proc: ResultPromise; out: () => string }> {
  const ns = `peers-${peer}-${n}-${process.pid}`;
  await k(['create', 'namespace', ns]);
  const proc = start(ns);
  let out = '';
  proc.all?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  await ready(proc, () => out);
  const cpu0 = await cpuSeconds(proc.pid!);
  const log = () => out;
  const runs0 = await runs(log);
  const { wall, created } = await burst(ns, n, field);
  const row: Row = { peer, n, wall, created, cpu: (await cpuSeconds(proc.pid!)) - cpu0, rss: await peakRssMb(proc.pid!), runs: (await runs(log)) - runs0 };
  return { row, ns, proc, out: log };
}

const waitFor = async (what: string, fn: () => boolean | Promise<boolean>, ms = 60_000) => {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
};

// kubectl itself, as a user runs it: kustomate counts its own kubectl processes (kustomate_kubectl_runs_total), so
// it needs no counting shim, whose extra process would be part of every apply's time.
const startKustomate = (ns: string) =>
  execa(process.execPath, [...NODE_FLAGS, path.resolve('dist/cli/main.js'), 'run', '--namespace', ns, '--health-port', '0', '--kubectl', kubectlBin, 'sample'], {
    env: { KUBECONFIG, KUSTOMATE_LOG_LEVEL: 'info' },
    all: true,
    reject: false,
    timeout: 3_600_000,
  });
const kustomateReady = (_p: ResultPromise, out: () => string) => waitFor('kustomate watching', () => out().includes('listed; watching'));

/** The port kustomate's health server listens on (--health-port 0 picks a free one, and the log says which, once). */
const ports = new WeakMap<() => string, number>();
async function healthPort(out: () => string): Promise<number> {
  if (!ports.has(out)) {
    await waitFor('health port', () => /"port":(\d+)/.test(out()));
    ports.set(out, Number(/"port":(\d+)/.exec(out())![1]));
  }
  return ports.get(out)!;
}

/** Sum of a counter over its labels, from kustomate's /metrics. */
async function metric(out: () => string, name: string): Promise<number> {
  return counterSum(await healthPort(out), name);
}
const kustomateKubectlRuns = (out: () => string) => metric(out, 'kustomate_kubectl_runs_total');

async function stopAndDelete(ns: string, proc: ResultPromise): Promise<void> {
  // With the operator still running: kustomate's finalizers are removed by it.
  await k(['delete', 'namespace', ns, '--timeout=900s']).catch(() => undefined);
  proc.kill('SIGTERM');
  await proc;
}

const rows: Row[] = [];
const notes: string[] = [];
await fs.mkdir(BENCH_DIR, { recursive: true });
await fs.rm(COUNT_FILE, { force: true });
const kopfBin = await kopf();
await execa('npm', ['run', 'build'], { timeout: 300_000 });

/** The baseline: folders rendered before the clock starts, applied one after another, as a shell loop would. */
async function bare(n: number): Promise<Row> {
  const ns = `peers-bare-${n}-${process.pid}`;
  await k(['create', 'namespace', ns]);
  const dirs = await Promise.all(samples(ns, n).map(workdirOf));
  const cpu0 = await cpuSeconds(process.pid);
  const t0 = performance.now();
  for (const d of dirs) await execa(kubectlBin, ['--kubeconfig', KUBECONFIG, 'apply', '-k', d.dir], { timeout: 120_000 });
  const row = { peer: BARE, n, wall: (performance.now() - t0) / 1000, runs: n, cpu: (await cpuSeconds(process.pid)) - cpu0 };
  await Promise.all(dirs.map((d) => d.cleanup()));
  return row;
}

async function kopfPeer(n: number): Promise<Row> {
  const run = await measure(
    'kopf',
    n,
    (ns) =>
      execa(kopfBin, ['run', '--standalone', '--namespace', ns, path.resolve('bench/peers/demo2_fair.py')], {
        env: { ...shimEnv, SAMPLE_BASE: path.join(DEFAULT_BASES_DIR, 'sample'), KUBECTL: SHIM },
        all: true,
        reject: false,
        timeout: 3_600_000,
      }),
    'sample_create',
    async (_p, out) => {
      await waitFor('kopf watching', () => /Initial authentication has finished|watching for/i.test(out()), 60_000);
      await sleep(2_000);
    },
  );
  run.proc.kill('SIGTERM');
  await run.proc;
  return { ...run.row, peer: KOPF };
}

/** kustomate's burst; with `restart`, then a restart over the same, unchanged Samples (noted, not a row). */
async function kustomatePeer(n: number, restart: boolean): Promise<Row> {
  const ours = await measure('kustomate', n, startKustomate, 'sample', kustomateReady, kustomateKubectlRuns);
  ours.proc.kill('SIGTERM');
  await ours.proc;
  if (restart) {
    // Every one reconciled again, and no kubectl run at all.
    const t1 = performance.now();
    const again = startKustomate(ours.ns);
    let out = '';
    again.all?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-200_000)));
    const log = () => out;
    await waitFor(`${n} reconciles after the restart`, async () => (await metric(log, 'kustomate_reconciles_total')) >= n, 300_000);
    notes.push(`restart over ${n} unchanged Samples: all reconciled again in ${((performance.now() - t1) / 1000).toFixed(1)} s (start-up included), ${await kustomateKubectlRuns(log)} kubectl processes; peak RSS ${(await peakRssMb(again.pid!)).toFixed(0)} MB`);
    again.kill('SIGTERM');
    await again;
  }
  return { ...ours.row, peer: 'kustomate' };
}

// Each round runs every peer once, on a cluster of its own, in an order turned by one place from the round before
// (and from the size before): the machine's speed drifts over hours, and one fixed order would leave that drift on
// the peer measured last. With a number of rounds that is a multiple of three, each peer takes each place equally.
const PEERS = ['bare', 'kopf', 'kustomate'] as const;
for (const [sizeIndex, n] of sizes.entries()) {
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < PEERS.length; i++) {
      const peer = PEERS[(i + round + sizeIndex) % PEERS.length]!;
      const at = `${n} Samples, round ${round + 1} of ${ROUNDS}`;
      try {
        await freshCluster();
        const row = peer === 'bare' ? await bare(n) : peer === 'kopf' ? await kopfPeer(n) : await kustomatePeer(n, round === 0 && n === Math.max(...sizes));
        rows.push(row);
        console.error(`${new Date().toISOString()} ${at}: ${JSON.stringify({ ...row, round: round + 1 })}`);
      } catch (err) {
        // One failed round loses only itself: the table is made of the rounds that ended, and says what failed.
        console.error(`${new Date().toISOString()} ${at}: ${peer} failed: ${(err as Error).stack ?? String(err)}`);
        notes.push(`${peer}, ${at}, failed: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
}

// A single Sample on an idle operator: create to kubectl output in status, against one bare apply of the same dir.
// The controllers would still be collecting the last burst's ReplicaSets and Pods: a fresh cluster first.
await freshCluster();
const singleNs = `peers-single-${process.pid}`;
await k(['create', 'namespace', singleNs]);
const idle = startKustomate(singleNs);
let idleOut = '';
idle.all?.on('data', (c: Buffer) => (idleOut = (idleOut + c.toString()).slice(-20_000)));
await kustomateReady(idle, () => idleOut);
const SINGLES = 11;
const singles: number[] = [];
const bares: number[] = [];
const roundTrips: number[] = [];
for (let i = 0; i < SINGLES; i++) {
  const [one] = samples(singleNs, 1, `single-${i}`);
  const dir = await workdirOf({ ...one!, metadata: { ...one!.metadata, name: `bare-${i}` } });
  const t0 = performance.now();
  await execa(kubectlBin, ['--kubeconfig', KUBECONFIG, 'apply', '-k', dir.dir], { timeout: 120_000 });
  bares.push(performance.now() - t0);
  await dir.cleanup();
  const applied = await whenApplied(singleNs, [one!.metadata.name], 'sample', { fieldSelector: `metadata.name=${one!.metadata.name}` });
  const t1 = performance.now();
  await api.request('POST', `/apis/nuvolaris.org/v1/namespaces/${singleNs}/samples`, { body: one });
  singles.push((await applied.at) - t1);
  roundTrips.push(applied.seen.get(one!.metadata.name)! - t1);
}
await stopAndDelete(singleNs, idle);
// The goal allows one watch round-trip on top of the apply: the operator learns of the create through its watch.
// Measured here as the create request to the bench's own watch seeing the new object.
const rtt = median(roundTrips);
notes.push(
  `single Sample, from its create request to kubectl output in status: ${median(singles).toFixed(0)} ms (median of ${SINGLES}); less one watch round-trip (${rtt.toFixed(0)} ms, create to its watch event), ${((median(singles) - rtt) / median(bares)).toFixed(2)}x one bare kubectl apply -k of the same dir (${median(bares).toFixed(0)} ms); ${(median(singles) / median(bares)).toFixed(2)}x without that allowance`,
);

/** One row per peer and size: each column the median over the rounds, and the walls' range when there were several. */
function summary(n: number, peer: string): (Row & { range: string }) | undefined {
  const of = rows.filter((r) => r.n === n && r.peer === peer);
  if (of.length === 0) return undefined;
  const mid = (pick: (r: Row) => number | undefined) => {
    const xs = of.map(pick).filter((x): x is number => x !== undefined);
    return xs.length ? median(xs) : undefined;
  };
  const walls = of.map((r) => r.wall);
  const range = of.length > 1 ? `${Math.min(...walls).toFixed(1)}–${Math.max(...walls).toFixed(1)} s` : '';
  const optional = { created: mid((r) => r.created), cpu: mid((r) => r.cpu), rss: mid((r) => r.rss) };
  return { peer, n, wall: mid((r) => r.wall)!, runs: mid((r) => r.runs)!, range, ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) };
}

const rounds = ROUNDS > 1 ? `; every figure the median of ${ROUNDS} rounds, each column on its own, and the ratios those of the medians (range: the fastest and the slowest wall; each round's own row is on stderr); the restart and the single Sample are measured once` : '';
console.log(`\npeers on the local control plane, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores; N Samples created at once (${CREATE_AT_ONCE} requests in flight), wall from the first create until every Sample has its kubectl output in status, seen through a watch${rounds}`);
console.log(`| N | peer | wall |${ROUNDS > 1 ? ' range |' : ''} Samples all created at | throughput vs kopf | vs bare | CPU incl. kubectl | peak RSS | kubectl processes |`);
console.log(`|${' --- |'.repeat(ROUNDS > 1 ? 10 : 9)}`);
for (const n of sizes) {
  const [b, kf, ours] = [BARE, KOPF, 'kustomate'].map((peer) => summary(n, peer));
  const ratio = (of: Row | undefined, r: Row) => (of ? `${(of.wall / r.wall).toFixed(2)}x` : '');
  for (const r of [b, kf, ours]) {
    if (!r) continue;
    console.log(`| ${n} | ${r.peer} | ${r.wall.toFixed(1)} s |${ROUNDS > 1 ? ` ${r.range} |` : ''} ${r.created === undefined ? '' : `${r.created.toFixed(1)} s`} | ${ratio(kf, r)} | ${ratio(b, r)} | ${r.cpu === undefined ? '' : `${r.cpu.toFixed(1)} s`} | ${r.rss === undefined ? '' : `${r.rss.toFixed(0)} MB`} | ${Number.isInteger(r.runs) ? r.runs : r.runs.toFixed(1)} |`);
  }
}
for (const note of notes) console.log(`- ${note}`);
