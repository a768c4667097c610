// Two operator processes split the Samples of one namespace by the kustomate.io/shard label.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, KUBECTL, readyCondition, startOperator, waitFor, type OperatorProcess } from './helpers.ts';

const FAULT_KUBECTL = path.resolve('test/e2e/fixtures/fault-kubectl.mjs');
const N = 100;

interface Run {
  event: string;
  verb: string;
  name?: string;
  /** The objects of the run: one, or those of a batch. */
  names: string[];
  operator: number;
}

describe('sharding', () => {
  let ns: string;
  let dir: string;
  let journalFile: string;
  const ops: Record<string, OperatorProcess> = {};

  const journal = async (): Promise<Run[]> =>
    (await fs.readFile(journalFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Run);
  /** The names each operator process ran `kubectl apply` for. */
  const appliedBy = async (op: OperatorProcess) =>
    new Set((await journal()).filter((r) => r.verb === 'apply' && r.event === 'start' && r.operator === op.proc.pid).flatMap((r) => r.names));

  beforeAll(async () => {
    ns = await createNamespace('e2e-shard');
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-shard-'));
    journalFile = path.join(dir, 'journal.jsonl');
    for (const shard of ['a', 'b']) {
      ops[shard] = startOperator(
        ['--namespace', ns, '--kubectl', FAULT_KUBECTL, '--shard-key', shard, '--leader-election', '--leader-election-namespace', ns, '--concurrency', '8', 'sample'],
        { REAL_KUBECTL: KUBECTL, FAULT_JOURNAL: journalFile },
      );
    }
  });
  afterAll(async () => {
    // The Samples first, while both replicas run to remove their finalizers (the Leases live in this namespace).
    await k(['delete', 'samples', '--all', '-n', ns, '--timeout=120s'], { reject: false, timeoutMs: 130_000 });
    await Promise.all(Object.values(ops).map((op) => op.stop()));
    await deleteNamespace(ns);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it(`splits ${N} Samples between two replicas by label, with no Sample applied by both and a Lease per shard`, async () => {
    const shardOf = (i: number) => (i % 2 === 0 ? 'a' : 'b');
    const samples = Array.from({ length: N }, (_, i) => ({
      apiVersion: 'nuvolaris.org/v1',
      kind: 'Sample',
      metadata: { name: `s-${i}`, namespace: ns, labels: { 'kustomate.io/shard': shardOf(i) } },
      spec: { count: 1 },
    }));
    await applyObjects(...samples);
    await waitFor(`${N} Samples Ready`, async () => {
      const list = await getJson<{ items: any[] }>(['samples', '-n', ns]);
      return list!.items.filter((s) => readyCondition(s)?.status === 'True').length === N;
    }, 300_000, 2000);

    const [a, b] = [await appliedBy(ops.a!), await appliedBy(ops.b!)];
    expect([...a].sort()).toEqual(samples.filter((_, i) => shardOf(i) === 'a').map((s) => s.metadata.name).sort());
    expect([...b].sort()).toEqual(samples.filter((_, i) => shardOf(i) === 'b').map((s) => s.metadata.name).sort());

    const leases = await getJson<{ items: any[] }>(['leases', '-n', ns]);
    const holders = Object.fromEntries(leases!.items.map((l) => [l.metadata.name, l.spec.holderIdentity]));
    expect(Object.keys(holders).sort()).toEqual(['kustomate-sample-shard-a', 'kustomate-sample-shard-b']);
    expect(holders['kustomate-sample-shard-a']).not.toBe(holders['kustomate-sample-shard-b']);
  });

  it('hands a relabelled Sample to the other replica, and its children wake only the new one', async () => {
    await k(['label', 'sample', 's-0', '-n', ns, 'kustomate.io/shard=b', '--overwrite']);
    await k(['patch', 'sample', 's-0', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { count: 2 } })]);
    await waitFor('s-0 applied by b with 2 replicas', async () => (await getJson(['deployment', 's-0-demo-deploy', '-n', ns]))?.spec.replicas === 2);
    // A child changed by hand: the replica that now owns the Sample repairs it; the other one never applies it again.
    await k(['scale', 'deployment', 's-0-demo-deploy', '-n', ns, '--replicas', '5']);
    await waitFor('drift repaired', async () => (await getJson(['deployment', 's-0-demo-deploy', '-n', ns]))?.spec.replicas === 2);
    const runs = (await journal()).filter((r) => r.verb === 'apply' && r.event === 'start' && r.names.includes('s-0'));
    expect(runs.filter((r) => r.operator === ops.a!.proc.pid)).toHaveLength(1);
    expect(runs.filter((r) => r.operator === ops.b!.proc.pid).length).toBeGreaterThanOrEqual(2);
  });
});
