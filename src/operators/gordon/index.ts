// Why: the Gordon operator of the prgcont training: spec.gordon.replicas pods, and which pods belong to which Gordon.
// Better than the seed: a Deployment restarts dead pods, and a timer keeps the pod list in status true.
import type { KubeObject } from '../../kube/api.ts';
import { ownerSelector } from '../../kustomize/labels.ts';
import { Operator } from '../../operator/operator.ts';
import { at, nameProblems, problemsOf, required, wholeNumber } from '../validate.ts';

/** How often the pod list in status is refreshed, per Gordon. */
export const GORDON_STATUS_INTERVAL_MS = Number(process.env.KUSTOMATE_GORDON_INTERVAL_MS ?? 5_000);

export function gordonReplicas(obj: KubeObject): number | string {
  return wholeNumber(at(obj, ['spec', 'gordon', 'replicas']), 'spec.gordon.replicas');
}

interface PodList {
  items: Array<{
    metadata: { name: string; deletionTimestamp?: string };
    status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
  }>;
}

/** The Gordon's spec, as the CRD describes it. */
export interface GordonSpec {
  gordon: { replicas: number };
}

export const gordon = new Operator<GordonSpec>({
  name: 'gordon',
  resource: { group: 'operator.prgcont.cz', version: 'v1', plural: 'gordons', kind: 'Gordon' },
})
  .validate((obj) => [...nameProblems(obj.metadata.name, 63), ...problemsOf(gordonReplicas(obj))])
  .kustomize('gordon', (obj) => {
    const replicas = required(gordonReplicas(obj));
    return { base: 'gordon', patches: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'gordon' }, spec: { replicas } }] };
  })
  .timer('gordon_pods', { intervalMs: GORDON_STATUS_INTERVAL_MS }, async ({ api, body, namespace }) => {
    const selector = ownerSelector({ ...body, name: body.metadata.name });
    const list = await api.request<PodList>('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, {
      query: { labelSelector: selector },
    });
    const pods = list.items
      .map((p) => ({
        name: p.metadata.name,
        phase: p.metadata.deletionTimestamp ? 'Terminating' : (p.status?.phase ?? 'Unknown'),
        ready: !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
    return { replicas: gordonReplicas(body), ready: pods.filter((p) => p.ready).length, pods };
  });
