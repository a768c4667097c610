// Why: start, inspect and stop the local control plane (kwokctl, binary runtime) from the binaries in the cache.
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { stringify } from 'yaml';
import { buildCluster } from './build.ts';
import path from 'node:path';
import { BIN_DIR, CLUSTER_NAME, KUBECONFIG, KUBE_VERSION, KWOK_WORKDIR, binPath } from './versions.ts';

export const NODE_COUNT = Number(process.env.KUSTOMATE_NODES ?? 3);
const READY_TIMEOUT_MS = Number(process.env.KUSTOMATE_CLUSTER_TIMEOUT_MS ?? 240_000);
const CLUSTER_DIR = path.join(KWOK_WORKDIR, 'clusters', CLUSTER_NAME);
const CONFIG_FILE = path.join(KWOK_WORKDIR, 'kustomate-kwok.yaml');

type Log = (line: string) => void;

/** kwokctl with a private work dir; it never looks at ~/.kwok or ~/.kube/config. */
function kwokctl(args: string[], timeoutMs = 300_000) {
  return execa(binPath('kwokctl'), ['--name', CLUSTER_NAME, ...args], {
    env: {
      KWOK_WORKDIR,
      KWOK_RUNTIME: 'binary',
      KWOK_KUBE_VERSION: KUBE_VERSION,
      KWOK_KUBECTL_BINARY: binPath('kubectl'),
      // kwokctl prefers a kubectl on PATH over KWOK_KUBECTL_BINARY: put ours first, so client = server version.
      PATH: `${BIN_DIR}${path.delimiter}${process.env.PATH ?? ''}`,
    },
    timeout: timeoutMs,
    reject: false,
    all: true,
  });
}

/** kubectl against the local cluster only. */
export function kubectl(args: string[], timeoutMs = 30_000) {
  return execa(binPath('kubectl'), ['--kubeconfig', KUBECONFIG, ...args], { timeout: timeoutMs, reject: false });
}

export interface ClusterState {
  /** kwokctl has a cluster of this name in our work dir. */
  exists: boolean;
  /** The API server answers /readyz. */
  running: boolean;
  kubeconfig: string;
}

export async function clusterState(): Promise<ClusterState> {
  const exists = await fs.access(path.join(CLUSTER_DIR, 'kwok.yaml')).then(() => true, () => false);
  const haveKubeconfig = await fs.access(KUBECONFIG).then(() => true, () => false);
  const running = exists && haveKubeconfig && (await kubectl(['get', '--raw', '/readyz'], 10_000)).exitCode === 0;
  return { exists, running, kubeconfig: KUBECONFIG };
}

/** Every component listens on 127.0.0.1 only (kwokctl's bindAddress), and kube-apiserver advertises it. */
async function writeConfig(): Promise<void> {
  await fs.mkdir(KWOK_WORKDIR, { recursive: true });
  const config = {
    apiVersion: 'config.kwok.x-k8s.io/v1alpha1',
    kind: 'KwokctlConfiguration',
    options: { bindAddress: '127.0.0.1' },
  };
  await fs.writeFile(CONFIG_FILE, stringify(config));
}

async function logTails(log: Log, lines = 30): Promise<void> {
  const dir = path.join(CLUSTER_DIR, 'logs');
  const files = await fs.readdir(dir).catch(() => [] as string[]);
  for (const f of files) {
    const text = await fs.readFile(path.join(dir, f), 'utf8').catch(() => '');
    log(`--- last ${lines} lines of ${path.join(dir, f)}`);
    log(text.split('\n').slice(-lines - 1).join('\n'));
  }
}

async function waitReady(log: Log, nodes: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    const ready = await kubectl(['get', '--raw', '/readyz'], 10_000);
    const nodeList = ready.exitCode === 0 ? await kubectl(['get', 'nodes', '-o', 'json'], 10_000) : undefined;
    // kube-controller-manager creates the default ServiceAccount; without it no pod can be created.
    const sa = ready.exitCode === 0 ? await kubectl(['-n', 'default', 'get', 'serviceaccount', 'default'], 10_000) : undefined;
    let readyNodes = 0;
    if (nodeList?.exitCode === 0) {
      const items = (JSON.parse(nodeList.stdout) as { items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> }).items;
      readyNodes = items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    }
    const now = `apiserver ${ready.exitCode === 0 ? 'ready' : 'not ready'}, ${readyNodes}/${nodes} nodes Ready, default ServiceAccount ${sa?.exitCode === 0 ? 'present' : 'missing'}`;
    if (now !== last) log(`    ${now}`);
    last = now;
    if (ready.exitCode === 0 && readyNodes >= nodes && sa?.exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  await logTails(log);
  throw new Error(`the local cluster was not ready within ${READY_TIMEOUT_MS / 1000}s (${last})`);
}

export interface UpResult {
  reused: boolean;
  kubeconfig: string;
}

/** Builds if needed, then reuses a running cluster or creates one, and waits until it is ready. */
export async function clusterUp(log: Log = console.log, nodes = NODE_COUNT): Promise<UpResult> {
  await buildCluster(log);
  const state = await clusterState();
  if (state.running) {
    log(`reusing the running cluster "${CLUSTER_NAME}"`);
    await waitReady(log, nodes);
    return { reused: true, kubeconfig: KUBECONFIG };
  }
  if (state.exists) {
    log(`cluster "${CLUSTER_NAME}" exists but is not running; restarting it`);
    // Stop first: a component that died may still look alive to kwokctl (a zombie keeps its pid).
    await kwokctl(['stop', 'cluster']);
    const started = await kwokctl(['start', 'cluster', '--kubeconfig', KUBECONFIG], 120_000);
    if (started.exitCode === 0 && (await waitReady(log, nodes).then(() => true, () => false))) return { reused: false, kubeconfig: KUBECONFIG };
    log('could not start it; deleting and creating it afresh');
    await kwokctl(['delete', 'cluster', '--kubeconfig', KUBECONFIG]);
  }
  await writeConfig();
  log(`creating cluster "${CLUSTER_NAME}" (Kubernetes ${KUBE_VERSION}, kwok binary runtime, 127.0.0.1 only)`);
  const started = Date.now();
  const created = await kwokctl([
    'create', 'cluster',
    '--config', CONFIG_FILE,
    '--runtime', 'binary',
    '--kube-apiserver-binary', binPath('kube-apiserver'),
    '--kube-controller-manager-binary', binPath('kube-controller-manager'),
    '--kube-scheduler-binary', binPath('kube-scheduler'),
    '--kwok-controller-binary', binPath('kwok'),
    '--etcd-binary', binPath('etcd'),
    '--kubeconfig', KUBECONFIG,
    '--kube-authorization=true',
    '--disable-qps-limits',
    '--extra-args', 'kube-apiserver=advertise-address=127.0.0.1',
    // As OpenShift and other hardened clusters do: setting an ownerReference with blockOwnerDeletion needs update
    // on the owner's finalizers, which the install RBAC must therefore grant.
    '--extra-args', 'kube-apiserver=enable-admission-plugins=OwnerReferencesPermissionEnforcement',
    // One scheduler and one controller-manager: no leader election, so after a restart they work at once
    // instead of waiting out their predecessor's lease.
    '--extra-args', 'kube-scheduler=leader-elect=false',
    '--extra-args', 'kube-controller-manager=leader-elect=false',
    '--timeout', '4m',
  ]);
  if (created.exitCode !== 0) {
    log(created.all ?? '');
    await logTails(log);
    throw new Error(`kwokctl create cluster failed (exit ${created.exitCode})`);
  }
  const scaled = await kwokctl(['scale', 'node', '--replicas', String(nodes)]);
  if (scaled.exitCode !== 0) throw new Error(`kwokctl scale node failed: ${scaled.all}`);
  await waitReady(log, nodes);
  log(`cluster ready in ${Math.round((Date.now() - started) / 1000)}s`);
  return { reused: false, kubeconfig: KUBECONFIG };
}

/** Stops every component and removes the cluster's files; the kubeconfig entry goes too. */
export async function clusterDown(log: Log = console.log): Promise<void> {
  const state = await clusterState();
  if (!state.exists) {
    log(`no cluster "${CLUSTER_NAME}" to delete`);
    return;
  }
  const deleted = await kwokctl(['delete', 'cluster', '--kubeconfig', KUBECONFIG]);
  if (deleted.exitCode !== 0) throw new Error(`kwokctl delete cluster failed: ${deleted.all}`);
  await fs.rm(KUBECONFIG, { force: true });
  log(`cluster "${CLUSTER_NAME}" deleted`);
}

/** kube-apiserver's process, by the pid file kwokctl keeps; Linux only (it checks /proc/PID/cmdline). */
async function apiServer(): Promise<{ pid: number; pidFile: string; binary: string; args: string[] }> {
  const pidFile = path.join(CLUSTER_DIR, 'pids', 'kube-apiserver.pid');
  const pid = Number((await fs.readFile(pidFile, 'utf8')).trim());
  const [binary, ...args] = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  if (!binary || !binary.endsWith('kube-apiserver')) throw new Error(`pid ${pid} in ${pidFile} is not kube-apiserver`);
  return { pid, pidFile, binary, args };
}

/**
 * Freezes kube-apiserver (SIGSTOP): its connections stay open and every request hangs, unanswered, as with a server
 * that stopped answering without closing anything. Returns what thaws it (SIGCONT); call it in a `finally`.
 */
export async function freezeApiServer(): Promise<() => void> {
  const { pid } = await apiServer();
  process.kill(pid, 'SIGSTOP');
  return () => process.kill(pid, 'SIGCONT');
}

/**
 * Stops kube-apiserver alone (SIGTERM), waits `downMs`, and starts it again with the very same command line,
 * ports and files, while etcd, the controllers and kwok keep running: what an operator sees when its API server
 * goes away and comes back. Linux only (it reads /proc/PID/cmdline).
 */
export async function restartApiServer(downMs: number, log: Log = console.log): Promise<void> {
  const { pid, pidFile, binary, args } = await apiServer();
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // already gone
    }
  };
  signal('SIGTERM');
  // kube-apiserver stops listening at once but may linger draining watches; after 10 s it is killed.
  const deadline = Date.now() + 10_000;
  // Gone, or a zombie (state Z: exited, but its parent, kwokctl, is gone and nobody reaps it).
  const running = async () => / [^Z] /.test(await fs.readFile(`/proc/${pid}/stat`, 'utf8').then((t) => t.replace(/^.*\)/, ''), () => ' Z '));
  while (await running()) {
    if (Date.now() > deadline) signal('SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, downMs));
  const logFile = await fs.open(path.join(CLUSTER_DIR, 'logs', 'kube-apiserver.log'), 'a');
  try {
    // A daemon that must outlive this process: spawned detached and unreferenced (execa always awaits its child).
    const child = spawn(binary, args, { cwd: CLUSTER_DIR, detached: true, stdio: ['ignore', logFile.fd, logFile.fd] });
    child.unref();
    // kwokctl stops and deletes the cluster by this file: it must name the new process.
    await fs.writeFile(pidFile, String(child.pid));
  } finally {
    await logFile.close();
  }
  await waitReady(log, NODE_COUNT);
}
