// Why: the Sample operator of the Nuvolaris training: spec.count becomes the demo Deployment's replicas.
import type { KubeObject } from '../../kube/api.ts';
import { Operator } from '../../operator/operator.ts';
import { at, nameProblems, problemsOf, required, wholeNumber } from '../validate.ts';

/** spec.count as a whole number from 0 to the replica limit; anything else is a problem. */
export function sampleCount(obj: KubeObject): number | string {
  return wholeNumber(at(obj, ['spec', 'count']), 'spec.count');
}

/** The Sample's spec, as the CRD describes it. */
export interface SampleSpec {
  count: number;
}

export const sample = new Operator<SampleSpec>({
  name: 'sample',
  resource: { group: 'nuvolaris.org', version: 'v1', plural: 'samples', kind: 'Sample' },
})
  // The name becomes a label value (app.kubernetes.io/instance), which holds 63 characters.
  .validate((obj) => [...nameProblems(obj.metadata.name, 63), ...problemsOf(sampleCount(obj))])
  // kubectl's output lands in status.sample.message.
  .kustomize('sample', (obj) => {
    const replicas = required(sampleCount(obj));
    return {
      base: 'sample',
      // The training's patch.yaml, built as an object: enough context to find the Deployment, and the new replicas.
      patches: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'demo-deploy' }, spec: { replicas } }],
    };
  });
