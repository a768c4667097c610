// Why: the kustomize path shared by the reconciler and the CLI: build a work dir for a spec, run kubectl on it, clean up.
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/api.ts';
import { KubectlError, type KubectlResult, type KubectlRunner } from '../kubectl/runner.ts';
import { BuildError, createWorkdir, type KustomizeSpec, type Owner, type Workdir } from './workdir.ts';

/** The field manager kustomate applies as; managedFields show which fields it set, and who changed them since. */
export const FIELD_MANAGER = 'kustomate';

/** What an apply did: kubectl's result, with `stdout` in kubectl's own words, and the objects as applied. */
export type ApplyOutput = KubectlResult & { objects: KubeObject[] };

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

/**
 * Runs `fn` on a fresh work dir for the spec, and removes the folder after (unless kept). A long-running process
 * (`removeAfter: 'overlap'`) does not wait for the removal: it goes on with what comes next (the status write) while
 * the folder goes; one left by a process that ended meanwhile is removed at the next start.
 */
export async function withWorkdir<T>(env: KustomizeEnv, spec: KustomizeSpec, owner: Owner, fn: (dir: string) => Promise<T>, removeAfter: 'wait' | 'overlap' = 'wait'): Promise<T> {
  const workdir = await build(env, spec, owner);
  try {
    return await fn(workdir.dir);
  } finally {
    const removed = workdir.cleanup();
    if (removeAfter === 'wait') await removed;
    else removed.catch(() => undefined);
  }
}

/** Runs kubectl; a non-zero exit throws KubectlError with `reason` (the step that ran it: BuildFailed, ApplyFailed). */
export async function runChecked(env: Pick<KustomizeEnv, 'kubectl' | 'signal'>, args: string[], reason: string): Promise<KubectlResult> {
  const result = await env.kubectl(args, { signal: env.signal });
  if (result.exitCode !== 0) throw new KubectlError(reason, result);
  return result;
}

/** `kubectl kustomize DIR`: what an apply of the work dir would send. */
export const renderArgs = (dir: string): string[] => ['kustomize', dir];

/** The objects `kubectl kustomize` printed. */
export function renderOutput(result: KubectlResult): KubeObject[] {
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => !!o && typeof o === 'object' && typeof o.kind === 'string');
}

/** `kubectl kustomize DIR`: the objects an apply of the work dir would send. Throws KubectlError(BuildFailed). */
export async function renderIn(env: KustomizeEnv, dir: string): Promise<KubeObject[]> {
  return renderOutput(await runChecked(env, renderArgs(dir), 'BuildFailed'));
}

/**
 * `kubectl apply -k DIR --server-side`: creates or updates everything the work dir renders, as the field manager
 * `kustomate`, taking back any field someone else changed since (--force-conflicts), as Flux does
 * (https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts). The objects come back with their
 * managedFields, so the caller knows what exists now and which fields are kustomate's, without another kubectl run.
 */
export const applyArgs = (dir: string): string[] => ['apply', '-k', dir, '--server-side', `--field-manager=${FIELD_MANAGER}`, '--force-conflicts', '-o', 'json', '--show-managed-fields'];

/** What an apply did, from kubectl's JSON output (or from `objects`, a batch's share of it), in kubectl's own words. */
export function applyOutput(result: KubectlResult, objects: KubeObject[] = parseObjects(result.stdout)): ApplyOutput {
  return { ...result, stdout: objects.map(appliedLine).join('\n'), objects };
}

/** Applies the work dir (see applyArgs). Throws KubectlError(ApplyFailed) on a non-zero exit. */
export async function applyIn(env: KustomizeEnv, dir: string): Promise<ApplyOutput> {
  return applyOutput(await runChecked(env, applyArgs(dir), 'ApplyFailed'));
}

/** kubectl -o json prints one object, or a List of them. */
function parseObjects(stdout: string): KubeObject[] {
  if (!stdout.trim()) return [];
  const parsed = JSON.parse(stdout) as KubeObject & { items?: KubeObject[] };
  return parsed.kind === 'List' || Array.isArray(parsed.items) ? (parsed.items ?? []) : [parsed];
}

/** The line kubectl prints for a server-side applied object: `deployment.apps/web serverside-applied`. */
function appliedLine(obj: KubeObject): string {
  const group = obj.apiVersion.includes('/') ? `.${obj.apiVersion.split('/')[0]}` : '';
  return `${obj.kind.toLowerCase()}${group}/${obj.metadata.name} serverside-applied`;
}

/** Writes the work dir (kept, `into` a folder or a new temporary one) and runs `kubectl kustomize DIR` on it. */
export async function renderSpec(env: KustomizeEnv, spec: KustomizeSpec, owner: Owner, into?: string): Promise<{ dir: string; result: KubectlResult }> {
  const workdir = await build({ ...env, keepWorkdirs: true }, spec, owner, into);
  return { dir: workdir.dir, result: await env.kubectl(['kustomize', workdir.dir], { signal: env.signal }) };
}
