// A complete operator on kustomate: a Website becomes a ConfigMap and a Deployment, applied with kubectl apply -k.
import { fileURLToPath } from 'node:url';
import { Operator, PermanentError, ownerSelector, startOperators } from 'kustomate';

interface WebsiteSpec {
  replicas: number;
  message?: string;
}

export const website = new Operator<WebsiteSpec>({
  name: 'website',
  resource: { group: 'example.kustomate.io', version: 'v1', plural: 'websites', kind: 'Website' },
  // The bases of this operator: kustomize/website/ beside this file.
  basesDir: fileURLToPath(new URL('./kustomize/', import.meta.url)),
})
  // Checked before any step: a bad object gets Ready=False/InvalidSpec and an Event, and is not retried.
  .validate(({ spec }) => (Number.isInteger(spec?.replicas) && spec.replicas >= 0 ? [] : ['spec.replicas must be a whole number ≥ 0']))
  // create, update and repair: copy kustomize/website/, add these patches, kubectl apply -k; delete: its children go.
  // kubectl's output lands in status.website.message.
  .kustomize('website', ({ spec }) => {
    if (spec.message?.includes('\0')) throw new PermanentError('spec.message must be text', 'InvalidSpec');
    return {
      base: 'website',
      patches: [
        { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: spec.replicas } },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'content' }, data: { message: spec.message ?? 'hello' } },
      ],
    };
  })
  // Runs only when spec.message changes; the result lands in status.website_message.
  .onField('website_message', 'spec.message', ({ old, new: now }) => ({ previous: old ?? '', current: now ?? '' }))
  // Every 10 s per Website: how many of its pods are Running, in status.website_pods.
  .timer('website_pods', { intervalMs: 10_000 }, async ({ api, namespace, body }) => {
    const pods = await api.request<{ items: Array<{ status?: { phase?: string } }> }>('GET', `/api/v1/namespaces/${namespace}/pods`, {
      query: { labelSelector: ownerSelector({ ...body, name: body.metadata.name }) },
    });
    return { running: pods.items.filter((p) => p.status?.phase === 'Running').length };
  });

// node examples/website/operator.ts   (KUBECONFIG set, and: kubectl apply -f examples/website/crd.yaml)
// or, with the command line: kustomate run ./examples/website/operator.ts
if (import.meta.main) {
  const running = await startOperators({ operators: [website], health: { port: 8081, host: '127.0.0.1' } });
  // process.on, not once: a listener must stay, or execa's exit hook re-raises the signal mid-stop.
  process.on('SIGINT', () => void running.stop());
  process.on('SIGTERM', () => void running.stop());
}
