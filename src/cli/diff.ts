// Why: `kustomate diff`: what applying a custom resource would change on the live cluster, before it is applied.
import { connect } from '../kube/config.ts';
import { createKubectlRunner, type KubectlRunner } from '../kubectl/runner.ts';
import { FIELD_MANAGER, withWorkdir } from '../kustomize/commands.ts';
import type { KubeObject } from '../kube/api.ts';
import type { Operator } from '../operator/operator.ts';
import { findOperator, planRender, readCustomResource } from '../render/render.ts';
import { candidates } from './render.ts';

export interface DiffFlags {
  file: string;
  operator?: string[];
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  kubectl: string;
  kubectlTimeout: number;
  bases: string;
}

/** A failure of diff itself (not a difference): kubectl's convention, exit code 2 or more. */
export class DiffError extends Error {
  override name = 'DiffError';
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

/**
 * `kubectl diff -k DIR` exactly as the operator applies (server-side, as field manager kustomate, taking back
 * conflicting fields), so managers of other fields show no difference.
 */
export const diffArgs = (dir: string): string[] => ['diff', '-k', dir, '--server-side', `--field-manager=${FIELD_MANAGER}`, '--force-conflicts'];

/**
 * The live custom resource's uid, so the rendered children carry the same ownerReferences as the live ones; undefined
 * when it does not exist yet, or its CRD is not installed (everything then shows as new).
 */
async function liveUid(kubectl: KubectlRunner, operator: Operator<any>, obj: KubeObject, namespace: string): Promise<string | undefined> {
  const { plural, group } = operator.resource;
  const r = await kubectl(['get', `${plural}.${group}`, obj.metadata.name, '-n', namespace, '--ignore-not-found', '-o', 'jsonpath={.metadata.uid}']);
  if (r.exitCode === 0) return r.stdout.trim() || undefined;
  if (/doesn't have a resource type/.test(r.stderr)) {
    process.stderr.write(`note: the cluster does not know ${plural}.${group} yet (its CRD is not installed)\n`);
    return undefined;
  }
  throw new DiffError(`cannot read ${operator.resource.kind} ${namespace}/${obj.metadata.name}: ${r.stderr || `kubectl exited ${r.exitCode}`}`, r.exitCode > 1 ? r.exitCode : 2);
}

/**
 * Prints kubectl's diff of every kustomize spec the custom resource renders against the live cluster. Exit code as
 * kubectl diff's: 0 no change, 1 changes, 2 or more an error.
 */
export async function diffCommand(flags: DiffFlags): Promise<number> {
  const obj = await readCustomResource(flags.file);
  const operators = await candidates(flags.operator);
  // Validation first: a bad file is reported without touching the cluster.
  const offline = planRender(operators, obj, { namespace: flags.namespace, source: flags.file });
  const connection = connect({ kubeconfig: flags.kubeconfig, context: flags.context });
  const kubectl = createKubectlRunner({ binary: flags.kubectl, globalArgs: connection.kubectlArgs, env: connection.kubectlEnv, timeoutMs: flags.kubectlTimeout * 1000 });
  const operator = findOperator(operators, obj.apiVersion, obj.kind)!;
  const uid = await liveUid(kubectl, operator, obj, offline.owner.namespace);
  const plan = planRender(operators, obj, { namespace: flags.namespace, uid, source: flags.file });
  const env = { kubectl, basesDir: operator.basesDir ?? flags.bases };
  let code = 0;
  for (const { id, spec } of plan.specs) {
    const r = await withWorkdir(env, spec, plan.owner, (dir) => kubectl(diffArgs(dir)));
    if (plan.specs.length > 1 && r.stdout) process.stdout.write(`# ${id}\n`);
    if (r.stdout) process.stdout.write(`${r.stdout}\n`);
    if (r.exitCode > 1 || r.exitCode < 0) {
      if (r.stderr) process.stderr.write(`${r.stderr}\n`);
      // A kubectl that could not run at all (no exit code) is an error too.
      throw new DiffError(`kubectl diff failed for ${id} (exit code ${r.exitCode})`, r.exitCode > 1 ? r.exitCode : 2);
    }
    code = Math.max(code, r.exitCode);
  }
  return code;
}

