// Why: `kustomate render`: show exactly the work dir the operator would apply for a custom resource, offline.
import fs from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/api.ts';
import { renderKustomization } from '../kubectl/kustomize.ts';
import { createKubectlRunner } from '../kubectl/runner.ts';
import { createWorkdir } from '../kustomize/workdir.ts';
import { OPERATORS, operatorFor } from '../operators/index.ts';
import { UsageError } from './run.ts';

export interface RenderFlags {
  file: string;
  out?: string;
  namespace?: string;
  kubectl: string;
  bases: string;
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

/** Writes the work dir (kept), prints `kubectl kustomize DIR` on stdout and the folder on stderr. */
export async function renderCommand(flags: RenderFlags): Promise<number> {
  const obj = await readCustomResource(flags.file);
  const operator = operatorFor(obj.apiVersion, obj.kind);
  if (!operator) {
    const known = [...OPERATORS.values()].map((o) => `${o.resource.kind} (${o.resource.group}/${o.resource.version})`).join(', ');
    throw new UsageError(`no operator handles ${obj.kind} ${obj.apiVersion} (known: ${known})`);
  }
  const problems = operator.problems(obj);
  if (problems.length) throw new UsageError(`${flags.file}: ${problems.join('; ')}`);
  const namespace = obj.metadata.namespace ?? flags.namespace ?? 'default';
  const owner = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace, uid: obj.metadata.uid };
  const workdir = await createWorkdir(operator.render(obj), owner, { basesDir: flags.bases, keep: true, into: flags.out });
  process.stderr.write(`work dir: ${workdir.dir}\n`);
  if (!owner.uid) process.stderr.write('note: the file has no metadata.uid, so ownerReferences are left out; the operator adds them\n');
  const result = await renderKustomization(createKubectlRunner({ binary: flags.kubectl }), workdir.dir);
  if (result.exitCode !== 0) {
    process.stderr.write(`${result.stderr}\n`);
    return result.exitCode > 0 ? result.exitCode : 1;
  }
  process.stdout.write(`${result.stdout}\n`);
  return 0;
}
