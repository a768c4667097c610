// Bursts on the real control plane: objects that become ready together share kubectl processes, a big batch runs
// its shares at once, and a failure stays with its own object. The failures are real: an admission policy refuses
// three of the Deployments.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKDIR_PREFIX } from '../../src/kustomize/workdir.ts';
import { applyObjects, createNamespace, deleteNamespace, denyPolicy, FAULT_KUBECTL, getJson, k, KUBECTL, metric, readJournal, readyCondition, startOperator, waitFor, type KubectlRun, type OperatorProcess } from './helpers.ts';

const DOOMED = ['doomed-7', 'doomed-42', 'doomed-77'];

/** Creates Samples of these names at once (one kubectl apply of a List), and waits until each has its apply output. */
async function burstApplied(ns: string, names: string[]): Promise<void> {
  await applyObjects(...names.map((name) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name, namespace: ns }, spec: { count: 1 } })));
  await waitFor('every Sample applied', async () => {
    const list = await getJson<{ items: any[] }>(['samples', '-n', ns]);
    return list!.items.filter((s) => s.status?.sample?.message === `deployment.apps/${s.metadata.name}-demo-deploy serverside-applied`).length === names.length;
  }, 180_000);
}

describe('batched kubectl', () => {
  let ns: string;
  let operator: OperatorProcess;
  const policy = (namespace: string) =>
    denyPolicy(
      `e2e-batch-${namespace}`,
      namespace,
      [{ apiGroups: ['apps'], apiVersions: ['*'], resources: ['deployments'], operations: ['CREATE', 'UPDATE'] }],
      "!object.metadata.name.startsWith('doomed-')",
      'doomed Deployments are refused in this test',
    );

  beforeAll(async () => {
    ns = await createNamespace('e2e-batch');
    await applyObjects(...policy(ns));
    // The policy is enforced once the API server has loaded it: a refused dry run says so.
    await waitFor('the policy enforced', async () => {
      const probe = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'doomed-probe', namespace: ns }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } } };
      return (await k(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(probe), reject: false })).exitCode !== 0;
    });
    operator = startOperator(['--namespace', ns, '--concurrency', '32', 'sample']);
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
    await k(['delete', 'validatingadmissionpolicy,validatingadmissionpolicybinding', `e2e-batch-${ns}`, '--ignore-not-found'], { reject: false });
  });

  it('applies 100 Samples created at once with fewer kubectl processes than Samples; 3 refused ones fail alone, each with its own error; no work dir stays', async () => {
    const names = Array.from({ length: 100 }, (_, i) => (DOOMED.includes(`doomed-${i}`) ? `doomed-${i}` : `s-${i}`));
    await applyObjects(...names.map((name) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name, namespace: ns }, spec: { count: 1 } })));
    const settled = await waitFor('every Sample applied or refused', async () => {
      const list = await getJson<{ items: any[] }>(['samples', '-n', ns]);
      const done = list!.items.filter((s) => s.status?.sample?.message || readyCondition(s)?.reason === 'ApplyFailed');
      return done.length === 100 && list!.items;
    }, 180_000);
    for (const s of settled) {
      const name = s.metadata.name as string;
      if (DOOMED.includes(name)) {
        expect(readyCondition(s), name).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
        expect(readyCondition(s).message).toContain(`"${name}-demo-deploy"`);
        expect(readyCondition(s).message).toContain('doomed Deployments are refused in this test');
        // Only its own Deployment is named: no other object's error, and nothing of the others' output.
        expect(readyCondition(s).message.match(/demo-deploy/g)).toHaveLength(1);
      } else {
        expect(s.status.sample.message, name).toBe(`deployment.apps/${name}-demo-deploy serverside-applied`);
      }
    }
    await waitFor('the 97 Ready', async () => {
      const list = await getJson<{ items: any[] }>(['samples', '-n', ns]);
      return list!.items.filter((s) => readyCondition(s)?.status === 'True').length === 97;
    }, 180_000);
    const deployments = (await getJson<{ items: any[] }>(['deployments', '-n', ns]))!.items.map((d) => d.metadata.name);
    expect(deployments.sort()).toEqual(names.filter((n) => !DOOMED.includes(n)).map((n) => `${n}-demo-deploy`).sort());
    // One render and one apply per Sample would be 200 processes; the three failures retried alone included.
    const runs = await metric(operator, 'kustomate_kubectl_runs_total');
    expect(runs).toBeLessThan(100);
    process.stdout.write(`batched kubectl: 100 Samples, ${runs} kubectl processes\n`);
    // Each work dir goes once its apply is done (the refused three are retried, each time in a fresh one that goes too).
    const own = `${WORKDIR_PREFIX}-${operator.proc.pid}-`;
    await waitFor('no work dir of the operator left', async () => (await fs.readdir(os.tmpdir())).every((f) => !f.startsWith(own)), 30_000);
  });
});

describe('a reconcile waiting for a batch lends its place', () => {
  let ns: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    ns = await createNamespace('e2e-lend');
    // Two reconciles at once: without lending no batch could hold more than two Samples.
    operator = startOperator(['--namespace', ns, '--concurrency', '2', '--batch-max', '40', 'sample']);
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
  });

  it('applies 40 Samples created at once with --concurrency 2 in far fewer than the 20 kubectl processes batches of two would take', async () => {
    await burstApplied(ns, Array.from({ length: 40 }, (_, i) => `l-${i}`));
    const runs = await metric(operator, 'kustomate_kubectl_runs_total');
    expect(runs).toBeGreaterThan(0);
    expect(runs).toBeLessThan(10);
    // Every lent place was taken back.
    await waitFor('no place lent', async () => (await metric(operator, 'kustomate_queue_lent')) === 0 && (await metric(operator, 'kustomate_queue_running')) === 0, 60_000);
    process.stdout.write(`lending: 40 Samples at --concurrency 2, ${runs} kubectl processes\n`);
  });
});

describe('a big batch runs its shares at once', () => {
  let dir: string;
  const started: Array<{ ns: string; op: OperatorProcess }> = [];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-shares-'));
    // Every apply waits 5 s before it runs: the 48 creates (one kubectl apply of a List, one after another) are
    // done before the first apply, so the rest queue behind it as one batch, and shares that run at once overlap.
    await fs.writeFile(path.join(dir, 'rules.json'), JSON.stringify([{ verb: 'apply', delayMs: 5_000 }]));
  });
  afterAll(async () => {
    for (const { ns, op } of started) {
      await deleteNamespace(ns);
      await op.stop();
    }
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** The most apply runs of the journal that ran at the same time. */
  const mostAtOnce = (runs: KubectlRun[]) => {
    let running = 0;
    let most = 0;
    // In time order; at the same instant an end counts before a start.
    const isStart = (r: KubectlRun) => (r.event === 'start' ? 1 : 0);
    for (const r of [...runs].sort((a, b) => a.t - b.t || isStart(a) - isStart(b))) {
      running += r.event === 'start' ? 1 : -1;
      most = Math.max(most, running);
    }
    return most;
  };

  /** 48 Samples created at once under an operator with `--batch-processes n`: its apply runs, once all are applied. */
  const burst = async (processes: number) => {
    const ns = await createNamespace(`e2e-shares-${processes}`);
    const journalFile = path.join(dir, `journal-${processes}.jsonl`);
    const op = startOperator(['--namespace', ns, '--kubectl', FAULT_KUBECTL, '--batch-processes', String(processes), 'sample'], {
      REAL_KUBECTL: KUBECTL,
      FAULT_RULES: path.join(dir, 'rules.json'),
      FAULT_JOURNAL: journalFile,
    });
    started.push({ ns, op });
    const names = Array.from({ length: 48 }, (_, i) => `p-${i}`);
    await burstApplied(ns, names);
    const applies = (await readJournal(journalFile)).filter((r) => r.verb === 'apply');
    // Each Sample applied by exactly one run, and every run ended well.
    const ended = applies.filter((r) => r.event === 'end');
    expect(ended.every((r) => r.exit === 0)).toBe(true);
    expect(ended.flatMap((r) => r.names).sort()).toEqual([...names].sort());
    expect(await metric(op, 'kustomate_kubectl_runs_total')).toBeLessThan(48);
    return { most: mostAtOnce(applies), biggest: Math.max(...ended.map((r) => r.names.length)) };
  };

  it('applies a burst of 48 Samples with two kubectl processes at once under --batch-processes 2, never three, and one at a time under --batch-processes 1', async () => {
    const two = await burst(2);
    expect(two.most).toBe(2);
    // Shares: a batch of 32 or more runs in shares of at most 24 here, so no run takes 32.
    expect(two.biggest).toBeLessThan(32);
    const one = await burst(1);
    expect(one.most).toBe(1);
  });
});
