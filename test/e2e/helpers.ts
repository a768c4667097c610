// Why: what every end-to-end test needs: kubectl on the test cluster, polling, namespaces and a real operator process.
import { execa, type ResultPromise } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { inject } from 'vitest';
import { binPath } from '../../lab/cluster/versions.ts';

export const kubeconfig = () => inject('kubeconfig');
export const KUBECTL = binPath('kubectl');
/** The fault-injecting kubectl (fixtures/fault-kubectl.mjs): delays and failures by rule, and a journal of its runs. */
export const FAULT_KUBECTL = path.resolve('test/e2e/fixtures/fault-kubectl.mjs');

/** One line of the fault kubectl's journal. */
export interface KubectlRun {
  event: 'start' | 'end' | 'killed';
  t: number;
  /** The kubectl run (the wrapper's pid): its start and its end share it. */
  run: number;
  operator: number;
  verb: string;
  name?: string;
  /** The objects of the run: one, or those of a batch. */
  names: string[];
  replicas?: number;
  exit?: number;
}

/** The fault kubectl's journal so far (none yet: empty). */
export async function readJournal(file: string): Promise<KubectlRun[]> {
  return (await fs.readFile(file, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as KubectlRun);
}

/** kubectl on the test cluster; rejects on a non-zero exit unless `reject: false`. */
export async function k(args: string[], opts: { reject?: boolean; input?: string; timeoutMs?: number } = {}) {
  return execa(KUBECTL, ['--kubeconfig', kubeconfig(), ...args], {
    reject: opts.reject ?? true,
    input: opts.input,
    timeout: opts.timeoutMs ?? 60_000,
  });
}

export async function getJson<T = any>(args: string[]): Promise<T | undefined> {
  const r = await k(['get', ...args, '-o', 'json'], { reject: false });
  if (r.exitCode !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(r.stderr);
  }
  return JSON.parse(r.stdout) as T;
}

/** Apply objects (built in code, serialized as JSON, which kubectl reads like YAML). */
export async function applyObjects(...objects: object[]) {
  return k(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
}

/** Poll until `fn` returns a truthy value; fail with the last value seen. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await k(['create', 'namespace', name]);
  return name;
}

/**
 * Deletes a namespace and waits until it is gone. Call it while the operator still runs: the custom resources
 * in it carry kustomate's finalizer, which only a running operator removes.
 */
export async function deleteNamespace(name: string) {
  await k(['delete', 'namespace', name, '--ignore-not-found', '--timeout=120s'], { reject: false, timeoutMs: 130_000 });
  // Volumes kustomate made for claims in it (a MySQL's backups outlive it, by design) would stay Released for good.
  const volumes = await getJson<{ items: any[] }>(['persistentvolumes', '-l', 'app.kubernetes.io/managed-by=kustomate']);
  const left = (volumes?.items ?? []).filter((v) => v.spec.claimRef?.namespace === name).map((v) => v.metadata.name as string);
  if (left.length) await k(['delete', 'persistentvolumes', ...left, '--ignore-not-found', '--wait=false'], { reject: false });
}

export interface OperatorProcess {
  proc: ResultPromise;
  logs: () => string;
  /** The process has ended (it never should on its own). */
  exited: () => boolean;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/** Starts the real CLI (`kustomate run ...`) as a child process against the test cluster. */
export function startOperator(args: string[], env: Record<string, string> = {}): OperatorProcess {
  let output = '';
  const extra = args.includes('--health-port') ? [] : ['--health-port', '0'];
  const proc = execa(process.execPath, [path.resolve('src/cli/main.ts'), 'run', ...extra, ...args], {
    env: { KUBECONFIG: kubeconfig(), KUSTOMATE_KUBECTL: KUBECTL, KUSTOMATE_LOG_LEVEL: 'debug', ...env },
    reject: false,
    all: true,
    timeout: 30 * 60_000,
    // A graceful stop may take a whole reconcile (render, then apply) through a slow kubectl: execa's default
    // of SIGKILL after 5 s would cut it short.
    forceKillAfterDelay: 60_000,
  });
  proc.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let ended = false;
  void proc.then(() => (ended = true));
  return {
    proc,
    logs: () => output,
    exited: () => ended,
    stop: async (signal = 'SIGTERM') => {
      proc.kill(signal);
      await proc;
    },
  };
}

/** The JSON log lines of an operator process. */
export function lines(op: OperatorProcess): Array<Record<string, any>> {
  return op
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/** The port an operator process serves /healthz, /readyz and /metrics on (it was started with --health-port 0). */
export const healthPort = (op: OperatorProcess) =>
  waitFor('health port', async () => lines(op).find((l) => l.msg?.startsWith('serving /healthz'))?.port as number | undefined, 30_000);

/** The sum of one metric's samples on an operator process's /metrics, over every label set matching `labels`. */
export async function metric(op: OperatorProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${await healthPort(op)}/metrics`)).text();
  return sumMetric(text, name, labels);
}

/** Whether an operator process's /metrics describes this metric (it may have no sample yet). */
export async function metricServed(op: OperatorProcess, name: string): Promise<boolean> {
  const text = await (await fetch(`http://127.0.0.1:${await healthPort(op)}/metrics`)).text();
  return text.split('\n').includes(`# TYPE ${name} counter`);
}

/** The sum of one metric's samples in Prometheus text, over every label set matching `labels`. */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export const readyCondition = (obj: any) => obj?.status?.conditions?.find((c: any) => c.type === 'Ready');

/** A namespaced test CRD with a status subresource; `properties` describe spec and status. */
export function testCrd(group: string, kind: string, plural: string, properties: { spec: object; status: object }) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase() },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: { type: 'object', properties } },
        },
      ],
    },
  };
}

/** Writes a kubeconfig for the test cluster that authenticates with `token` only; returns its path. */
export async function tokenKubeconfig(token: string, dir: string, user: string): Promise<string> {
  const admin = parse(await fs.readFile(kubeconfig(), 'utf8'));
  const file = path.join(dir, `kubeconfig-${user}`);
  await fs.writeFile(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: admin.clusters[0].cluster }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: user, context: { cluster: 'c', user } }],
      'current-context': user,
    }),
  );
  return file;
}

/**
 * Deletes a namespace with an operator for every example kind running, so custom resources left with
 * kustomate's finalizer (their own operator gone) can still go (DatabaseTables on the local PostgreSQL);
 * waits until the namespace is gone.
 */
export async function cleanNamespace(name: string) {
  const cleaner = startOperator(['--namespace', name], { DATABASE_URL: inject('databaseUrl') });
  await deleteNamespace(name);
  await cleaner.stop();
}

/** An admission policy and its binding, limited to one namespace by its name label. */
export function denyPolicy(name: string, namespace: string, resourceRules: object[], expression: string, message: string) {
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name },
      spec: { failurePolicy: 'Fail', matchConstraints: { resourceRules }, validations: [{ expression, message }] },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name },
      spec: {
        policyName: name,
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } },
      },
    },
  ];
}
