// The Sample operator end to end: a real operator process, real kubectl, the real control plane.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BASES_DIR } from '../../src/kustomize/bases.ts';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, readyCondition, startOperator, waitFor, type OperatorProcess } from './helpers.ts';

const sampleObj = (namespace: string, name: string, count: unknown) => ({
  apiVersion: 'nuvolaris.org/v1',
  kind: 'Sample',
  metadata: { name, namespace },
  spec: { count },
});

async function runningPods(ns: string, instance: string): Promise<number> {
  const pods = await getJson<{ items: any[] }>(['pods', '-n', ns, '-l', `app.kubernetes.io/instance=${instance}`]);
  return pods!.items.filter((p) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp).length;
}

describe('Sample operator', () => {
  let ns: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    ns = await createNamespace('e2e-sample');
    operator = startOperator(['--namespace', ns, 'sample']);
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
  });

  it("count 2 gives a Deployment with 2 Running pods and kubectl's output in status.sample.message", async () => {
    await applyObjects(sampleObj(ns, 'obj', 2));
    const sam = await waitFor('Sample Ready', async () => {
      const s = await getJson(['sample', 'obj', '-n', ns]);
      return readyCondition(s)?.status === 'True' && s;
    });
    expect(sam.status.sample.message).toMatch(/deployment\.apps\/obj-demo-deploy serverside-applied/);
    expect(sam.status.observedGeneration).toBe(sam.metadata.generation);
    const deploy = await getJson(['deployment', 'obj-demo-deploy', '-n', ns]);
    expect(deploy.spec.replicas).toBe(2);
    expect(deploy.metadata.ownerReferences[0]).toMatchObject({ kind: 'Sample', name: 'obj', uid: sam.metadata.uid });
    await waitFor('2 Running pods', async () => (await runningPods(ns, 'obj')) === 2);
  });

  it('re-applies when spec.count changes to 3', async () => {
    await k(['patch', 'sample', 'obj', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { count: 3 } })]);
    await waitFor('3 replicas', async () => (await getJson(['deployment', 'obj-demo-deploy', '-n', ns]))?.spec.replicas === 3);
    await waitFor('3 Running pods', async () => (await runningPods(ns, 'obj')) === 3);
    // Ready follows the pods within moments (a child's change wakes its owner once it settles).
    const sam = await waitFor('observedGeneration 2 and Ready', async () => {
      const s = await getJson(['sample', 'obj', '-n', ns]);
      return s.status?.observedGeneration === 2 && readyCondition(s).status === 'True' && s;
    });
    expect(readyCondition(sam)).toMatchObject({ status: 'True', observedGeneration: 2 });
  });

  it('keeps two Samples in one namespace independent', async () => {
    await applyObjects(sampleObj(ns, 'left', 1), sampleObj(ns, 'right', 2));
    await waitFor('both Deployments', async () => {
      const l = await getJson(['deployment', 'left-demo-deploy', '-n', ns]);
      const r = await getJson(['deployment', 'right-demo-deploy', '-n', ns]);
      return l?.spec.replicas === 1 && r?.spec.replicas === 2;
    });
    await waitFor('pods per instance', async () => (await runningPods(ns, 'left')) === 1 && (await runningPods(ns, 'right')) === 2);
    await k(['delete', 'sample', 'left', '-n', ns, '--wait=true', '--timeout=90s']);
    expect(await getJson(['deployment', 'left-demo-deploy', '-n', ns])).toBeUndefined();
    const right = await getJson(['deployment', 'right-demo-deploy', '-n', ns]);
    expect(right.spec.replicas).toBe(2);
    await waitFor('right Ready', async () => readyCondition(await getJson(['sample', 'right', '-n', ns]))?.status === 'True');
  });

  it('on delete, removes the Deployment first, then the Sample goes', async () => {
    await k(['delete', 'sample', 'obj', '-n', ns, '--wait=false']);
    // While delete -k runs, the finalizer holds the Sample; it goes only after its Deployment is gone.
    await waitFor('Sample gone', async () => (await getJson(['sample', 'obj', '-n', ns])) === undefined, 90_000);
    expect(await getJson(['deployment', 'obj-demo-deploy', '-n', ns])).toBeUndefined();
    expect(operator.logs()).toMatch(/"name":"obj".*delete succeeded, finalizer removed/);
  });

  it('lets the API server reject count -1', async () => {
    const r = await k(['apply', '-f', '-'], { input: JSON.stringify(sampleObj(ns, 'negative', -1)), reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/spec\.count.*should be greater than or equal to 0/);
  });
});

describe('Sample operator with a broken base', () => {
  let ns: string;
  let bases: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    ns = await createNamespace('e2e-broken');
    bases = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-bases-'));
    await fs.cp(DEFAULT_BASES_DIR, bases, { recursive: true });
    await fs.writeFile(path.join(bases, 'sample', 'kustomization.yaml'), 'resources:\n  - missing-deployment.yaml\n');
    operator = startOperator(['--namespace', ns, '--bases', bases, 'sample']);
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
    await fs.rm(bases, { recursive: true, force: true });
  });

  it("reports Ready=False with kubectl's stderr, retries with backoff, and recovers once the base is fixed", async () => {
    await applyObjects(sampleObj(ns, 'obj', 1));
    const failed = await waitFor('Ready=False', async () => {
      const s = await getJson(['sample', 'obj', '-n', ns]);
      return readyCondition(s)?.status === 'False' && s;
    });
    expect(readyCondition(failed)).toMatchObject({ reason: 'BuildFailed', message: expect.stringContaining('missing-deployment.yaml') });
    // Several attempts with growing delays, each reported as a Warning Event.
    await waitFor('3 attempts', async () => (operator.logs().match(/"reason":"BuildFailed"/g) ?? []).length >= 3, 30_000);
    const delays = [...operator.logs().matchAll(/"retryInMs":(\d+)/g)].map((m) => Number(m[1]));
    expect(delays[1]!).toBeGreaterThan(delays[0]!);
    expect(delays[2]!).toBeGreaterThan(delays[1]!);
    const events = await getJson<{ items: any[] }>(['events', '-n', ns, '--field-selector', 'involvedObject.name=obj,reason=BuildFailed']);
    expect(events!.items.length).toBeGreaterThanOrEqual(1);

    await fs.cp(path.join(DEFAULT_BASES_DIR, 'sample'), path.join(bases, 'sample'), { recursive: true, force: true });
    const recovered = await waitFor('Ready=True', async () => {
      const s = await getJson(['sample', 'obj', '-n', ns]);
      return readyCondition(s)?.status === 'True' && s;
    }, 90_000);
    expect(recovered.status.sample.message).toContain('obj-demo-deploy');
    expect((await getJson(['deployment', 'obj-demo-deploy', '-n', ns])).spec.replicas).toBe(1);
  });
});
