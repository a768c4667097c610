// The README's example operator is this file's subject: the README shows it verbatim, and it works on the cluster.
import fs from 'node:fs/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOperators, type RunningOperators } from 'kustomate';
import { website } from '../../examples/website/operator.ts';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, KUBECTL, kubeconfig, readyCondition, startOperator, waitFor } from './helpers.ts';

describe('the README example (examples/website)', () => {
  let ns: string;
  let running: RunningOperators;

  beforeAll(async () => {
    await k(['apply', '-f', 'examples/website/crd.yaml']);
    await k(['wait', '--for=condition=Established', 'crd/websites.example.kustomate.io', '--timeout=60s']);
    ns = await createNamespace('e2e-website');
    running = await startOperators({ operators: [website], namespaces: [ns], kubeconfig: kubeconfig(), kubectl: KUBECTL, logger: pino({ level: 'error' }) });
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await running.stop();
    await k(['delete', 'crd', 'websites.example.kustomate.io', '--ignore-not-found']);
  });

  it('is shown in the README exactly as it is in examples/website/operator.ts', async () => {
    const [readme, source] = await Promise.all([fs.readFile('README.md', 'utf8'), fs.readFile('examples/website/operator.ts', 'utf8')]);
    expect(readme).toContain('```ts\n' + source + '```');
  });

  it('turns a Website into a ConfigMap and a Deployment, follows spec changes, and reports its pods', async () => {
    await applyObjects({ apiVersion: 'example.kustomate.io/v1', kind: 'Website', metadata: { name: 'home', namespace: ns }, spec: { replicas: 2, message: 'hi' } });
    await waitFor('Ready', async () => readyCondition(await getJson(['website', 'home', '-n', ns]))?.status === 'True');
    expect((await getJson(['configmap', 'home-content', '-n', ns])).data.message).toBe('hi');
    expect((await getJson(['deployment', 'home-web', '-n', ns])).spec.replicas).toBe(2);
    const site = await waitFor('pods counted', async () => {
      const w = await getJson(['website', 'home', '-n', ns]);
      return w.status?.website_pods?.running === 2 && w;
    });
    expect(site.status.website_message).toEqual({ previous: '', current: 'hi' });

    await k(['patch', 'website', 'home', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { message: 'bye' } })]);
    await waitFor('message updated', async () => (await getJson(['configmap', 'home-content', '-n', ns])).data.message === 'bye');
    await waitFor('field handler ran', async () => (await getJson(['website', 'home', '-n', ns])).status?.website_message?.previous === 'hi');

    await k(['delete', 'website', 'home', '-n', ns, '--timeout=90s']);
    expect(await getJson(['deployment', 'home-web', '-n', ns])).toBeUndefined();
  });

  it('runs from the command line too: kustomate run ./examples/website/operator.ts', async () => {
    const other = await createNamespace('e2e-website-cli');
    const cli = startOperator(['--namespace', other, './examples/website/operator.ts']);
    try {
      await applyObjects({ apiVersion: 'example.kustomate.io/v1', kind: 'Website', metadata: { name: 'cli', namespace: other }, spec: { replicas: 1 } });
      const site = await waitFor('Ready', async () => {
        const w = await getJson(['website', 'cli', '-n', other]);
        return readyCondition(w)?.status === 'True' && w;
      });
      expect(site.status.website.message).toMatch(/deployment\.apps\/cli-web serverside-applied/);
      expect((await getJson(['configmap', 'cli-content', '-n', other])).data.message).toBe('hello');
    } finally {
      // While the operator still runs: the Website's finalizer is only removed by it.
      await deleteNamespace(other);
      await cli.stop();
    }
  });
});
