// The workshop scripts themselves run in CI, so the lab never drifts from the code (DESIGN.md).
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { getJson, k, KUBECTL, kubeconfig } from './helpers.ts';

const runStep = (script: string) =>
  execa('bash', [script], {
    env: { KUBECTL, KUBECONFIG: kubeconfig() },
    reject: false,
    all: true,
    timeout: 300_000,
  });

describe('lab scripts', () => {
  afterAll(async () => {
    await k(['delete', 'namespace', 'demo', '--ignore-not-found', '--wait=false'], { reject: false });
  });

  it('step 1 creates the CRD and a Sample, then deletes it', async () => {
    const r = await runStep('lab/01-crd/run.sh');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('sample.nuvolaris.org/obj created');
    expect(r.all).toContain('sample.nuvolaris.org "obj" deleted');
  });

  it('step 2 applies the Deployment plainly, then through kustomize with the patch', async () => {
    const r = await runStep('lab/02-kustomize/run.sh');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/deployment.apps\/demo-deploy (created|configured|unchanged)/);
    expect(await getJson(['deployment', 'demo-deploy', '-n', 'demo'])).toBeUndefined();
  });

  it('step 3 runs the operator: a Sample becomes a Deployment, scales, and is deleted with it', async () => {
    const r = await runStep('lab/03-operator/run.sh');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('sample.nuvolaris.org/obj condition met');
    expect(r.all).toContain('deployment.apps/obj-demo-deploy condition met');
    expect(await getJson(['deployment', 'obj-demo-deploy', '-n', 'demo'])).toBeUndefined();
    expect(await getJson(['sample', 'obj', '-n', 'demo'])).toBeUndefined();
  });
});
