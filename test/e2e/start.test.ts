// The README's first command, `npm start`, on a configured cluster: CRDs, operator, the lab Sample shown Ready.
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanNamespace, getJson, k, KUBECTL, kubeconfig, readyCondition } from './helpers.ts';

// The Sample keeps a finalizer once start's operator is gone: cleanNamespace runs one while demo goes.
const cleanDemo = () => cleanNamespace('demo');

/** `npm start --once` on the test cluster. */
const start = () =>
  execa(process.execPath, ['scripts/start.ts', '--once'], {
    env: { KUBECONFIG: kubeconfig(), KUSTOMATE_KUBECTL: KUBECTL, KUSTOMATE_HEALTH_PORT: '0' },
    all: true,
    reject: false,
    timeout: 300_000,
  });

describe('npm start', () => {
  afterAll(cleanDemo);

  it('installs the CRDs, runs the operator, applies the lab Sample and shows it Ready (--once stops after)', async () => {
    await cleanDemo();
    const r = await start();
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain(`[start] using the cluster configured in ${kubeconfig()}`);
    expect(r.all).toContain('[start] the Sample is Ready:');
    // It was this run's operator that reconciled it, and it stopped cleanly.
    expect(r.all).toMatch(/"name":"obj","cause":"create","msg":"create succeeded"/);
    expect(r.all).toContain('"msg":"stopped"');
    expect(r.all).toMatch(/sample\.nuvolaris\.org\/obj\s+2\s+True\s+deployment\.apps\/obj-demo-deploy/);
    const sam = await getJson(['sample', 'obj', '-n', 'demo']);
    expect(readyCondition(sam).status).toBe('True');
    expect((await k(['get', 'crd', 'databases.zalando.org', 'gordons.operator.prgcont.cz', '-o', 'name'])).stdout.split('\n')).toHaveLength(2);
  });

  it('runs again over the Sample already Ready, and still stops cleanly (--once waits for the operator to start)', async () => {
    const r = await start();
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('"msg":"operator started"');
    expect(r.all).toContain('"msg":"stopped"');
  });
});
