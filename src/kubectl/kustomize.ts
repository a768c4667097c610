// Why: the three kustomize operations kustomate performs, on a work dir, through the one kubectl runner.
import type { KubectlResult, KubectlRunner, RunOptions } from './runner.ts';

export interface PruneOptions {
  /** Label selector that finds every object of this instance, e.g. `kustomate.io/owner=sample.nuvolaris.org.obj`. */
  selector: string;
  /** Kinds that may be pruned, as `group/version/Kind` (`core/v1/Pod`); nothing else is ever deleted. */
  allowlist: string[];
}

/**
 * `kubectl apply -k DIR`: creates or updates everything the kustomization renders. With `prune`, objects of the
 * allowed kinds that match the selector but are no longer rendered are deleted
 * (https://kubernetes.io/docs/tasks/manage-kubernetes-objects/declarative-config/#alternative-kubectl-apply-f-directory-prune).
 */
export function applyKustomization(run: KubectlRunner, dir: string, opts?: RunOptions & { prune?: PruneOptions }): Promise<KubectlResult> {
  const prune = opts?.prune && opts.prune.allowlist.length > 0
    ? ['--prune', '-l', opts.prune.selector, ...opts.prune.allowlist.map((k) => `--prune-allowlist=${k}`)]
    : [];
  return run(['apply', '-k', dir, ...prune], opts);
}

/** `kubectl delete -k DIR --ignore-not-found`: waits until the objects are gone; deleting twice is not an error. */
export function deleteKustomization(run: KubectlRunner, dir: string, opts?: RunOptions): Promise<KubectlResult> {
  return run(['delete', '-k', dir, '--ignore-not-found'], opts);
}

/** `kubectl kustomize DIR`: what apply -k would send, without a cluster. */
export function renderKustomization(run: KubectlRunner, dir: string, opts?: RunOptions): Promise<KubectlResult> {
  return run(['kustomize', dir], opts);
}
