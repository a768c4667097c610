// Why: `kustomate render`: show exactly the work dirs the operator would apply for a custom resource, offline.
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/api.ts';
import { createKubectlRunner } from '../kubectl/runner.ts';
import { renderSpec } from '../kustomize/commands.ts';
import type { Operator } from '../operator/operator.ts';
import { OPERATORS, loadOperatorModule, operatorFor } from '../operators/index.ts';
import { UsageError } from './run.ts';

export interface RenderFlags {
  file: string;
  out?: string;
  namespace?: string;
  kubectl: string;
  bases: string;
  operator?: string[];
}

export async function readCustomResource(file: string): Promise<KubeObject> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const docs = parseAllDocuments(text).filter((d) => d.contents !== null);
  if (docs.length !== 1) throw new UsageError(`${file} must hold exactly one custom resource, found ${docs.length} documents`);
  const doc = docs[0]!;
  if (doc.errors.length) throw new UsageError(`${file} is not valid YAML: ${doc.errors[0]!.message}`);
  const obj = doc.toJS() as Partial<KubeObject> | null;
  if (!obj || typeof obj !== 'object' || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    throw new UsageError(`${file} has no apiVersion and kind`);
  }
  if (!obj.metadata || typeof obj.metadata.name !== 'string' || obj.metadata.name === '') {
    throw new UsageError(`${file} has no metadata.name`);
  }
  return obj as KubeObject;
}

async function candidates(modules: string[] | undefined): Promise<Operator<any>[]> {
  if (!modules?.length) return [...OPERATORS.values()];
  return (await Promise.all(modules.map(loadOperatorModule))).flat();
}

/**
 * Writes one work dir per kustomize spec (kept), prints `kubectl kustomize DIR` for each on stdout and each folder on
 * stderr. With `--out DIR`, a single spec is written into DIR, several into DIR/<id>/.
 */
export async function renderCommand(flags: RenderFlags): Promise<number> {
  const obj = await readCustomResource(flags.file);
  const operators = await candidates(flags.operator);
  const operator = operatorFor(operators, obj.apiVersion, obj.kind);
  if (!operator) {
    const known = operators.map((o) => `${o.resource.kind} (${o.resource.group}/${o.resource.version})`).join(', ');
    throw new UsageError(`no operator handles ${obj.kind} ${obj.apiVersion} (known: ${known})`);
  }
  const problems = operator.problems(obj);
  if (problems.length) throw new UsageError(`${flags.file}: ${problems.join('; ')}`);
  let specs;
  try {
    specs = operator.render(obj);
  } catch (err) {
    // The reconciler takes any error of a builder as InvalidSpec; so does render.
    throw new UsageError(`${flags.file}: ${(err as Error).message}`);
  }
  const namespace = obj.metadata.namespace ?? flags.namespace ?? 'default';
  const owner = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace, uid: obj.metadata.uid };
  if (!owner.uid) process.stderr.write('note: the file has no metadata.uid, so ownerReferences are left out; the operator adds them\n');
  const env = { kubectl: createKubectlRunner({ binary: flags.kubectl }), basesDir: operator.basesDir ?? flags.bases };
  for (const { id, spec } of specs) {
    const into = flags.out && (specs.length === 1 ? flags.out : path.join(flags.out, id));
    const { dir, result } = await renderSpec(env, spec, owner, into);
    process.stderr.write(`work dir${specs.length > 1 ? ` (${id})` : ''}: ${dir}\n`);
    if (result.exitCode !== 0) {
      process.stderr.write(`${result.stderr}\n`);
      return result.exitCode > 0 ? result.exitCode : 1;
    }
    process.stdout.write(`${specs.length > 1 ? `# ${id}\n` : ''}${result.stdout}\n`);
  }
  return 0;
}
