// The reconcile core's guarantees, each broken on purpose on the real control plane: a slow or failing kubectl, a
// status write or a lease renewal blocked by a ValidatingAdmissionPolicy, an object deleted mid-run.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freezeApiServer } from '../../lab/cluster/cluster.ts';
import { applyObjects, createNamespace, deleteNamespace, denyPolicy, FAULT_KUBECTL, getJson, k, KUBECTL, metric, readJournal, readyCondition, startOperator, waitFor, type KubectlRun, type OperatorProcess } from './helpers.ts';

interface Rule {
  verb?: string;
  name?: string;
  replicas?: number;
  delayMs?: number;
  fail?: boolean;
}

const sampleObj = (namespace: string, name: string, count: number) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name, namespace }, spec: { count } });

describe('reconcile core under faults', () => {
  let ns: string;
  let dir: string;
  let rulesFile: string;
  let journalFile: string;
  const started: OperatorProcess[] = [];

  const setRules = (rules: Rule[]) => fs.writeFile(rulesFile, JSON.stringify(rules));
  const journal = async (name?: string): Promise<KubectlRun[]> => (await readJournal(journalFile)).filter((r) => name === undefined || r.names.includes(name));
  const applies = async (name: string) => (await journal(name)).filter((r) => r.verb === 'apply' && r.event === 'start');
  const operator = (args: string[] = []) => {
    const op = startOperator(['--namespace', ns, '--kubectl', FAULT_KUBECTL, ...args, 'sample'], { REAL_KUBECTL: KUBECTL, FAULT_RULES: rulesFile, FAULT_JOURNAL: journalFile });
    started.push(op);
    return op;
  };
  const sample = (name: string) => getJson(['sample', name, '-n', ns]);
  const readyAt = (name: string, generation?: number, timeoutMs = 60_000) =>
    waitFor(`${name} Ready${generation ? ` at generation ${generation}` : ''}`, async () => {
      const s = await sample(name);
      const ok = readyCondition(s)?.status === 'True' && s.status.observedGeneration === s.metadata.generation;
      return ok && (generation === undefined || s.metadata.generation === generation) && s;
    }, timeoutMs);
  const patchCount = (name: string, count: number) => k(['patch', 'sample', name, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { count } })]);

  beforeAll(async () => {
    ns = await createNamespace('e2e-core');
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-core-'));
    rulesFile = path.join(dir, 'rules.json');
    journalFile = path.join(dir, 'journal.jsonl');
    await setRules([]);
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((op) => op.stop('SIGKILL')));
    await setRules([]);
  });
  afterAll(async () => {
    const cleaner = startOperator(['--namespace', ns, 'sample']);
    await deleteNamespace(ns);
    await cleaner.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('applies a spec changed during a failing apply next, and never the stale spec again', async () => {
    await setRules([{ verb: 'apply', name: 'latest', replicas: 1, delayMs: 3_000, fail: true }]);
    operator();
    await applyObjects(sampleObj(ns, 'latest', 1));
    await waitFor('the first apply running', async () => (await applies('latest')).length === 1, 30_000, 100);
    await patchCount('latest', 2);
    await readyAt('latest', 2);
    expect((await getJson(['deployment', 'latest-demo-deploy', '-n', ns])).spec.replicas).toBe(2);
    expect((await applies('latest')).map((r) => r.replicas)).toEqual([1, 2]);
  });

  it('forgets an object that went during a failing apply: no more kubectl runs, no more reconciles', async () => {
    await setRules([{ verb: 'apply', name: 'zombie', delayMs: 5_000, fail: true }]);
    const op = operator();
    await applyObjects(sampleObj(ns, 'zombie', 1));
    await waitFor('the first apply running', async () => (await applies('zombie')).length === 1, 30_000, 100);
    // Gone while the apply runs: finalizer removed by hand, then deleted.
    await k(['patch', 'sample', 'zombie', '-n', ns, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/metadata/finalizers' }])]);
    await k(['delete', 'sample', 'zombie', '-n', ns, '--wait=true', '--timeout=30s']);
    // The reconcile that ran the apply ends with it (its failure reported to nobody); what comes after must be nothing.
    await waitFor('the failing apply to end', async () => (await journal('zombie')).some((r) => r.verb === 'apply' && r.event === 'end'), 30_000, 100);
    await new Promise((r) => setTimeout(r, 3_000));
    const reconciles = await metric(op, 'kustomate_reconciles_total');
    await new Promise((r) => setTimeout(r, 12_000));
    expect(await metric(op, 'kustomate_reconciles_total')).toBe(reconciles);
    expect(await applies('zombie')).toHaveLength(1);
    expect(await getJson(['deployment', 'zombie-demo-deploy', '-n', ns])).toBeUndefined();
  });

  it('says Ready=True at a generation only once that generation is applied, while the spec changes mid-apply', async () => {
    await setRules([{ verb: 'apply', name: 'honest', delayMs: 3_000 }]);
    operator();
    await applyObjects(sampleObj(ns, 'honest', 1));
    await waitFor('the first apply running', async () => (await applies('honest')).length === 1, 30_000, 100);
    await patchCount('honest', 3);
    const lies: string[] = [];
    let seenFinal = false;
    const deadline = Date.now() + 60_000;
    while (!seenFinal && Date.now() < deadline) {
      // Read the Sample first: a Deployment read after it can only be as new or newer.
      const s = await sample('honest');
      if (readyCondition(s)?.status === 'True' && s.status.observedGeneration === s.metadata.generation) {
        const replicas = (await getJson(['deployment', 'honest-demo-deploy', '-n', ns]))?.spec.replicas;
        if (replicas !== s.spec.count) lies.push(`Ready=True at generation ${s.metadata.generation} (count ${s.spec.count}) with ${replicas} replicas`);
        seenFinal = s.metadata.generation === 2;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(lies).toEqual([]);
    expect(seenFinal).toBe(true);
  });

  /**
   * Runs `fn` while an admission policy refuses the UPDATEs of `resource` (samples, or samples/status) that
   * `expression` rejects. A policy takes effect within a few seconds: `probe`, a kubectl write it must refuse, tells when.
   */
  const whileRefused = async (name: string, resource: string, expression: string, probe: string[], fn: () => Promise<void>) => {
    const message = `${name}: refused for this test`;
    await applyObjects(...denyPolicy(name, ns, [{ apiGroups: ['nuvolaris.org'], apiVersions: ['*'], resources: [resource], operations: ['UPDATE'] }], expression, message));
    try {
      await waitFor('the policy in force', async () => (await k(probe, { reject: false })).stderr.includes(message), 30_000);
      await fn();
    } finally {
      await k(['delete', 'validatingadmissionpolicybinding', name, '--ignore-not-found']);
      await k(['delete', 'validatingadmissionpolicy', name, '--ignore-not-found']);
    }
  };

  it('writes Ready once a status write that an admission policy blocked is allowed again', async () => {
    await applyObjects(sampleObj(ns, 'probe', 1));
    const probe = ['patch', 'sample', 'probe', '-n', ns, '--subresource=status', '--type=merge', '-p', '{"status":{"probe":1}}'];
    await whileRefused('e2e-core-block-status', 'samples/status', 'false', probe, async () => {
      operator();
      await applyObjects(sampleObj(ns, 'blocked', 2));
      await waitFor('the Deployment applied', async () => (await getJson(['deployment', 'blocked-demo-deploy', '-n', ns]))?.spec.replicas === 2, 30_000);
      await new Promise((r) => setTimeout(r, 3_000));
      expect(readyCondition(await sample('blocked'))).toBeUndefined();
    });
    const ready = await readyAt('blocked', 1, 90_000);
    expect(JSON.parse(ready.status.kustomate.lastHandled)).toEqual({ spec: { count: 2 } });
  });

  it('applies nothing while an admission policy refuses its finalizer, and applies once the finalizer goes on', async () => {
    await applyObjects(sampleObj(ns, 'finalizer-probe', 1));
    // A dry run is admitted (or refused) as a real write is, and leaves no finalizer behind when it is not refused.
    const probe = ['patch', 'sample', 'finalizer-probe', '-n', ns, '--dry-run=server', '--type=merge', '-p', '{"metadata":{"finalizers":["e2e.kustomate.io/probe"]}}'];
    await whileRefused('e2e-core-block-finalizer', 'samples', '!has(object.metadata.finalizers) || size(object.metadata.finalizers) == 0', probe, async () => {
      operator();
      await applyObjects(sampleObj(ns, 'guarded', 1));
      // The work dir may be built meanwhile; nothing of it reaches the cluster before the finalizer is on.
      await new Promise((r) => setTimeout(r, 6_000));
      expect((await sample('guarded')).metadata.finalizers).toBeUndefined();
      expect(await applies('guarded')).toEqual([]);
      expect(await getJson(['deployment', 'guarded-demo-deploy', '-n', ns])).toBeUndefined();
    });
    const ready = await readyAt('guarded', 1, 90_000);
    expect(ready.metadata.finalizers).toEqual(['kustomate.io/finalizer']);
    expect(await getJson(['deployment', 'guarded-demo-deploy', '-n', ns])).toBeDefined();
  });

  it('heals a failed update that the user reverts: Ready=True again, retry state gone', async () => {
    await setRules([{ verb: 'apply', name: 'revert', replicas: 5, fail: true }]);
    operator();
    await applyObjects(sampleObj(ns, 'revert', 2));
    await readyAt('revert', 1);
    await patchCount('revert', 5);
    await waitFor('Ready=False ApplyFailed', async () => readyCondition(await sample('revert'))?.reason === 'ApplyFailed', 30_000);
    await patchCount('revert', 2);
    const healed = await readyAt('revert', 3, 30_000);
    expect(healed.status.kustomate?.progress).toBeUndefined();
    expect((await getJson(['deployment', 'revert-demo-deploy', '-n', ns])).spec.replicas).toBe(2);
  });

  it('fails every object of a batch killed by its timeout at once, without splitting it, and each retries on its own backoff', async () => {
    const names = ['slow-a', 'slow-b', 'slow-c', 'slow-d'];
    // Any batch that holds slow-a hangs past the 2 s kubectl timeout.
    await setRules([{ verb: 'apply', name: 'slow-a', delayMs: 30_000 }]);
    operator(['--kubectl-timeout', '2', '--batch-window', '1000']);
    await applyObjects(...names.map((n) => sampleObj(ns, n, 1)));
    for (const n of names) {
      await waitFor(`${n} ApplyFailed`, async () => {
        const ready = readyCondition(await sample(n));
        return ready?.reason === 'ApplyFailed' && ready.message.includes('timed out');
      }, 30_000, 100);
    }
    const runs = (await journal()).filter((r) => r.verb === 'apply' && names.some((n) => r.names.includes(n)));
    const [first, ...later] = runs.filter((r) => r.event === 'start');
    expect(first!.names).toContain('slow-a');
    expect(first!.names.length).toBeGreaterThan(1);
    const firstEnd = runs.find((r) => r.run === first!.run && r.event !== 'start')!;
    expect(firstEnd.event).toBe('killed');
    // Halves of a split would start the moment the batch was killed; a retry waits out its backoff (1 s ± 20 %).
    for (const r of later) expect(r.t - firstEnd.t).toBeGreaterThanOrEqual(500);

    await setRules([]);
    for (const n of names) await readyAt(n, 1, 60_000);
  });

  it('stops leading, and kills its kubectl, by its renew deadline while the API server hangs unanswered', async () => {
    const lease = 'e2e-core-hang-lease';
    await setRules([{ verb: 'apply', name: 'hung', delayMs: 60_000 }]);
    const a = operator(['--leader-election', '--leader-election-namespace', ns, '--leader-election-id', lease, '--lease-duration', '6']);
    await waitFor('a leads', async () => (await metric(a, 'kustomate_leader')) === 1, 30_000, 200);
    await applyObjects(sampleObj(ns, 'hung', 1));
    await waitFor('a applying', async () => (await applies('hung')).some((r) => r.operator === a.proc.pid), 30_000, 100);

    // Renewals now hang rather than fail. The renew deadline is two thirds of the 6 s lease: a leader must give up
    // by then, before another may take the lease, however long one request could wait for an answer.
    const thaw = await freezeApiServer();
    const frozenAt = Date.now();
    let gaveUpAfter: number;
    try {
      await waitFor('a stops leading', async () => (await metric(a, 'kustomate_leader')) === 0, 30_000, 100);
      gaveUpAfter = Date.now() - frozenAt;
      await waitFor('its apply killed', async () => (await journal('hung')).some((r) => r.operator === a.proc.pid && r.verb === 'apply' && r.event === 'killed'), 10_000, 100);
    } finally {
      thaw();
    }
    expect(gaveUpAfter).toBeLessThan(6_000);

    // Once the API server answers again, a leads again and finishes the job.
    await setRules([]);
    await readyAt('hung', 1, 120_000);
  });

  it('never lets two processes reconcile one object at once: a leader that cannot renew cancels its kubectl first', async () => {
    const lease = 'e2e-core-lease';
    await setRules([{ verb: 'apply', name: 'contested', delayMs: 12_000 }]);
    const le = ['--leader-election', '--leader-election-namespace', ns, '--leader-election-id', lease, '--lease-duration', '6'];
    const a = operator(le);
    const holder = async () => (await getJson(['lease', lease, '-n', ns]))?.spec?.holderIdentity as string | undefined;
    await waitFor('a leads', async () => (await holder())?.includes(`_${a.proc.pid}_`), 30_000);
    const b = operator(le);
    await applyObjects(sampleObj(ns, 'contested', 1));
    await waitFor('a applying', async () => (await applies('contested')).some((r) => r.operator === a.proc.pid), 30_000, 100);

    // Renewals (the holder writing itself again) are refused from now on; a takeover is still allowed.
    const policy = denyPolicy(
      'e2e-core-block-renewal',
      ns,
      [{ apiGroups: ['coordination.k8s.io'], apiVersions: ['*'], resources: ['leases'], operations: ['UPDATE'] }],
      `object.metadata.name != '${lease}' || oldObject.spec.holderIdentity != object.spec.holderIdentity`,
      'lease renewals are blocked for this test',
    );
    await applyObjects(...policy);
    try {
      await waitFor('b takes over', async () => (await holder())?.includes(`_${b.proc.pid}_`), 60_000, 200);
      await waitFor('b applying', async () => (await applies('contested')).some((r) => r.operator === b.proc.pid), 30_000, 100);
    } finally {
      await k(['delete', 'validatingadmissionpolicybinding', 'e2e-core-block-renewal', '--ignore-not-found']);
      await k(['delete', 'validatingadmissionpolicy', 'e2e-core-block-renewal', '--ignore-not-found']);
    }
    await readyAt('contested', 1, 180_000);

    // Each kubectl run (render or apply) as an interval, per process; no two processes' intervals may overlap.
    const runs = await journal('contested');
    const intervals = runs
      .filter((r) => r.event === 'start')
      .map((s) => ({ operator: s.operator, from: s.t, to: runs.find((e) => e.event !== 'start' && e.run === s.run)?.t ?? Infinity }));
    const overlaps = intervals.flatMap((x) => intervals.filter((y) => x.operator < y.operator && x.from < y.to && y.from < x.to).map((y) => [x, y]));
    expect(overlaps).toEqual([]);
    // a's first apply (12 s) was cancelled when it lost the lease, not left to finish.
    expect(runs.find((r) => r.operator === a.proc.pid && r.verb === 'apply' && r.event !== 'start')?.event).toBe('killed');
  });
});
