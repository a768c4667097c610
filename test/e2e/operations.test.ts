// Operations end to end: real `kustomate run` processes — leader election, health and metrics,
// SIGKILL and restart, bursts of updates, relists, and an API server that goes away and comes back.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { restartApiServer } from '../../lab/cluster/cluster.ts';
import { applyObjects, createNamespace, deleteNamespace, getJson, healthPort, k, KUBECTL, lines, readyCondition, startOperator, waitFor, type OperatorProcess } from './helpers.ts';

/** The arguments and environment of a running process whose command line matches (from /proc), or undefined. */
async function processOf(match: (args: string[]) => boolean): Promise<{ args: string[]; env: Record<string, string> } | undefined> {
  for (const pid of (await fs.readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const args = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
    if (!match(args)) continue;
    const environ = await fs.readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    return { args, env: Object.fromEntries(environ.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) };
  }
  return undefined;
}

const sampleObj = (namespace: string, name: string, count: number) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name, namespace }, spec: { count } });

const isLeader = (op: OperatorProcess) => lines(op).some((l) => l.msg === 'became the leader');
const created = (op: OperatorProcess, name: string) => lines(op).some((l) => l.name === name && l.msg === 'create succeeded');

async function sampleReady(ns: string, name: string, timeoutMs = 60_000) {
  return waitFor(`Sample ${name} Ready`, async () => {
    const s = await getJson(['sample', name, '-n', ns]);
    return readyCondition(s)?.status === 'True' && s.status.observedGeneration === s.metadata.generation && s;
  }, timeoutMs);
}

describe('operations', () => {
  let ns: string;
  const started: OperatorProcess[] = [];
  const start = (args: string[], env: Record<string, string> = {}) => {
    const op = startOperator(args, env);
    started.push(op);
    return op;
  };

  beforeAll(async () => {
    ns = await createNamespace('e2e-ops');
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((op) => op.stop('SIGKILL')));
  });
  afterAll(async () => {
    // The Samples left here carry the finalizer: an operator must run while the namespace goes.
    const cleaner = startOperator(['--namespace', ns, 'sample']);
    await deleteNamespace(ns);
    await cleaner.stop();
  });

  it('answers /healthz, /readyz and /metrics with reconcile, error, duration, queue and kubectl metrics', async () => {
    const op = start(['--namespace', ns, 'sample']);
    const port = await healthPort(op);
    await applyObjects(sampleObj(ns, 'metered', 1));
    await sampleReady(ns, 'metered');
    const get = (p: string) => fetch(`http://127.0.0.1:${port}${p}`);
    expect((await get('/healthz')).status).toBe(200);
    await waitFor('readyz 200', async () => (await get('/readyz')).status === 200);
    const metrics = await (await get('/metrics')).text();
    for (const name of ['kustomate_reconciles_total', 'kustomate_reconcile_duration_seconds', 'kustomate_handler_errors_total', 'kustomate_queue_depth']) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/kustomate_kubectl_runs_total\{verb="apply",result="ok"\} [1-9]/);
    expect(metrics).toMatch(/kustomate_handler_runs_total\{operator="sample",handler="sample",cause="create",result="ok"\} 1/);
  });

  it('with leader election only the leader reconciles; another takes over once the lease expires, at once after a graceful stop', async () => {
    const le = ['--namespace', ns, '--leader-election', '--leader-election-namespace', ns, '--leader-election-id', 'e2e-lease', '--lease-duration', '6', 'sample'];
    const a = start(le);
    await waitFor('a leads', async () => isLeader(a), 30_000);
    const b = start(le);
    await waitFor('b is up', async () => lines(b).some((l) => l.msg === 'waiting to become the leader'), 30_000);
    await applyObjects(sampleObj(ns, 'led-1', 1));
    await sampleReady(ns, 'led-1');
    expect(created(a, 'led-1')).toBe(true);
    expect(created(b, 'led-1')).toBe(false);
    expect(isLeader(b)).toBe(false);

    const killedAt = Date.now();
    await a.stop('SIGKILL');
    await waitFor('b leads', async () => isLeader(b), 20_000, 100);
    // The lease lasts 6 s after a's last renewal; b's retry period is 0.8 s.
    expect(Date.now() - killedAt).toBeLessThan(6_000 + 3_000);
    await applyObjects(sampleObj(ns, 'led-2', 1));
    await sampleReady(ns, 'led-2');
    expect(created(b, 'led-2')).toBe(true);

    const c = start(le);
    await waitFor('c is up', async () => lines(c).some((l) => l.msg === 'waiting to become the leader'), 30_000);
    const stoppedAt = Date.now();
    await b.stop('SIGTERM');
    expect(lines(b).some((l) => l.msg === 'released the lease')).toBe(true);
    await waitFor('c leads', async () => isLeader(c), 20_000, 100);
    expect(Date.now() - stoppedAt).toBeLessThan(3_000);
  });

  it('converges after a SIGKILL in the middle of an apply, and the new process leaves no work dirs behind', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-tmp-'));
    const workdirs = async () => (await fs.readdir(tmp)).filter((f) => /^kustomate-\d+-/.test(f));
    const slow = start(['--namespace', ns, '--kubectl', path.resolve('test/e2e/fixtures/slow-kubectl.mjs'), 'sample'], {
      TMPDIR: tmp,
      REAL_KUBECTL: KUBECTL,
      SLOW_KUBECTL_MS: '4000',
    });
    await applyObjects(sampleObj(ns, 'killed', 2));
    const running = await waitFor(
      'a running kubectl apply',
      () => processOf((args) => args.some((a) => a.endsWith('slow-kubectl.mjs')) && args.includes('apply') && args.some((a) => a.startsWith(tmp))),
      30_000,
      100,
    );
    // The kubectl it runs has Go's garbage collection off up to a soft limit (fewer CPU seconds per apply).
    expect(running.env).toMatchObject({ GOGC: 'off', GOMEMLIMIT: '64MiB' });
    await slow.stop('SIGKILL');
    // What the killed process left: the work dir of the apply it was running among them (whatever else it had begun).
    const left = await workdirs();
    const applying = path.relative(tmp, running.args.find((a) => a.startsWith(tmp))!).split(path.sep)[0];
    expect(left).toContain(applying);

    const fresh = start(['--namespace', ns, 'sample'], { TMPDIR: tmp });
    await sampleReady(ns, 'killed');
    await waitFor('2 replicas', async () => (await getJson(['deployment', 'killed-demo-deploy', '-n', ns]))?.spec.replicas === 2);
    expect(lines(fresh).find((l) => l.msg === 'removed work dirs left by a process that died')?.removed).toEqual(left);
    await fresh.stop('SIGTERM');
    expect(await workdirs()).toEqual([]);
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('on SIGTERM lets a running kubectl finish within the grace period, and cancels it after', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-tmp-'));
    const workdirs = async () => (await fs.readdir(tmp)).filter((f) => /^kustomate-\d+-/.test(f));
    const slowly = (grace: string) =>
      start(['--namespace', ns, '--grace-period', grace, '--kubectl', path.resolve('test/e2e/fixtures/slow-kubectl.mjs'), 'sample'], {
        TMPDIR: tmp,
        REAL_KUBECTL: KUBECTL,
        SLOW_KUBECTL_MS: '3000',
      });

    const patient = slowly('30');
    await applyObjects(sampleObj(ns, 'graceful', 1));
    await waitFor('an apply in progress', async () => (await workdirs()).length > 0, 30_000, 100);
    await patient.stop('SIGTERM');
    expect(lines(patient).at(-1)?.msg).toBe('stopped');
    expect((await getJson(['deployment', 'graceful-demo-deploy', '-n', ns]))?.spec.replicas).toBe(1);
    expect(await workdirs()).toEqual([]);

    const hasty = slowly('1');
    await applyObjects(sampleObj(ns, 'cut-short', 1));
    await waitFor('an apply in progress', async () => (await workdirs()).length > 0, 30_000, 100);
    await hasty.stop('SIGTERM');
    expect(lines(hasty).some((l) => l.msg === 'grace period over: cancelling running kubectl commands')).toBe(true);
    expect(await getJson(['deployment', 'cut-short-demo-deploy', '-n', ns])).toBeUndefined();
    expect(await workdirs()).toEqual([]);
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('never runs two handlers for one object at once over 50 rapid updates, and ends at the final spec; relists re-apply nothing', async () => {
    const op = start(['--namespace', ns, '--relist-interval', '2', 'sample']);
    await applyObjects(sampleObj(ns, 'busy', 0));
    await sampleReady(ns, 'busy');
    for (let i = 1; i <= 50; i++) {
      await k(['patch', 'sample', 'busy', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { count: i % 4 } })]);
    }
    const final = await sampleReady(ns, 'busy', 90_000);
    expect(final.spec.count).toBe(2);
    await waitFor('2 replicas', async () => (await getJson(['deployment', 'busy-demo-deploy', '-n', ns]))?.spec.replicas === 2);
    let running = 0;
    let most = 0;
    for (const l of lines(op).filter((l) => l.name === 'busy')) {
      if (l.msg === 'handler started') most = Math.max(most, ++running);
      if (l.msg === 'handler finished') running--;
    }
    expect(most).toBe(1);

    const applies = () => lines(op).filter((l) => l.msg === 'kubectl' && l.command?.includes('apply')).length;
    const before = applies();
    const relists = lines(op).filter((l) => l.msg === 'relisted').length;
    await new Promise((r) => setTimeout(r, 7_000));
    expect(lines(op).filter((l) => l.msg === 'relisted').length).toBeGreaterThanOrEqual(relists + 2);
    expect(applies()).toBe(before);
  });

  it('keeps watching when the API server stops and starts in the middle of a burst; every Sample ends Ready', async () => {
    const op = start(['--namespace', ns, 'sample']);
    await waitFor('watching', async () => lines(op).some((l) => l.msg === 'listed; watching'), 30_000);
    const names = Array.from({ length: 10 }, (_, i) => `burst-${i}`);
    await applyObjects(...names.slice(0, 5).map((n) => sampleObj(ns, n, 1)));
    await restartApiServer(3_000, () => {});
    await applyObjects(...names.slice(5).map((n) => sampleObj(ns, n, 1)));
    for (const n of names) await sampleReady(ns, n, 120_000);
    expect(op.exited()).toBe(false);
    expect(lines(op).some((l) => l.msg === 'watch failed; retrying')).toBe(true);
  });
});
