// Why: the kustomize path shared by the reconciler and the CLI: build a work dir for a spec, run kubectl on it, clean up.
import { KubectlError, type KubectlResult, type KubectlRunner } from '../kubectl/runner.ts';
import { ownerSelector } from './labels.ts';
import { BuildError, createWorkdir, type KustomizeSpec, type Owner, type Workdir } from './workdir.ts';

/** Where bases live, which kubectl runs, and whether work dirs are kept for debugging. */
export interface KustomizeEnv {
  kubectl: KubectlRunner;
  basesDir: string;
  keepWorkdirs?: boolean;
  /** Aborting it kills the running kubectl (SIGTERM, then SIGKILL). */
  signal?: AbortSignal;
}

async function build(env: KustomizeEnv, spec: KustomizeSpec, owner: Owner, into?: string): Promise<Workdir> {
  try {
    return await createWorkdir(spec, owner, { basesDir: env.basesDir, keep: env.keepWorkdirs ?? false, into });
  } catch (err) {
    throw err instanceof BuildError ? err : new BuildError((err as Error).message);
  }
}

async function inWorkdir(env: KustomizeEnv, spec: KustomizeSpec, owner: Owner, args: (dir: string) => string[], reason: string): Promise<KubectlResult> {
  const workdir = await build(env, spec, owner);
  try {
    const result = await env.kubectl(args(workdir.dir), { signal: env.signal });
    if (result.exitCode !== 0) throw new KubectlError(reason, result);
    return result;
  } finally {
    await workdir.cleanup();
  }
}

/**
 * `kubectl apply -k DIR`: creates or updates everything the spec renders. Kinds in `spec.prune` that carry this
 * owner's label but are no longer rendered are deleted; nothing else is
 * (https://kubernetes.io/docs/tasks/manage-kubernetes-objects/declarative-config/#alternative-kubectl-apply-f-directory-prune).
 * Throws BuildError when the work dir cannot be built, KubectlError(ApplyFailed) on a non-zero exit.
 */
export function applySpec(env: KustomizeEnv, spec: KustomizeSpec, owner: Owner): Promise<KubectlResult> {
  const prune = spec.prune?.length ? ['--prune', '-l', ownerSelector(owner), ...spec.prune.map((k) => `--prune-allowlist=${k}`)] : [];
  return inWorkdir(env, spec, owner, (dir) => ['apply', '-k', dir, ...prune], 'ApplyFailed');
}

/** `kubectl delete -k DIR --ignore-not-found`: waits until the objects are gone; deleting twice is not an error. */
export function deleteSpec(env: KustomizeEnv, spec: KustomizeSpec, owner: Owner): Promise<KubectlResult> {
  return inWorkdir(env, spec, owner, (dir) => ['delete', '-k', dir, '--ignore-not-found'], 'DeleteFailed');
}

/** Writes the work dir (kept, `into` a folder or a new temporary one) and runs `kubectl kustomize DIR` on it. */
export async function renderSpec(env: KustomizeEnv, spec: KustomizeSpec, owner: Owner, into?: string): Promise<{ dir: string; result: KubectlResult }> {
  const workdir = await build({ ...env, keepWorkdirs: true }, spec, owner, into);
  return { dir: workdir.dir, result: await env.kubectl(['kustomize', workdir.dir], { signal: env.signal }) };
}
