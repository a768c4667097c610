// Why: the three kustomize operations kustomate performs, on a work dir, through the one kubectl runner.
import type { KubectlResult, KubectlRunner, RunOptions } from './runner.ts';

/** `kubectl apply -k DIR`: creates or updates everything the kustomization renders. */
export function applyKustomization(run: KubectlRunner, dir: string, opts?: RunOptions): Promise<KubectlResult> {
  return run(['apply', '-k', dir], opts);
}

/** `kubectl delete -k DIR --ignore-not-found`: waits until the objects are gone; deleting twice is not an error. */
export function deleteKustomization(run: KubectlRunner, dir: string, opts?: RunOptions): Promise<KubectlResult> {
  return run(['delete', '-k', dir, '--ignore-not-found'], opts);
}

/** `kubectl kustomize DIR`: what apply -k would send, without a cluster. */
export function renderKustomization(run: KubectlRunner, dir: string, opts?: RunOptions): Promise<KubectlResult> {
  return run(['kustomize', dir], opts);
}
