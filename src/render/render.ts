// Why: what an operator would apply for one custom resource, offline: shared by render, golden files, diff and bundle checks.
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/api.ts';
import type { KubectlRunner } from '../kubectl/runner.ts';
import { renderArgs, renderSpec, withWorkdir } from '../kustomize/commands.ts';
import type { KustomizeSpec, Owner } from '../kustomize/workdir.ts';
import type { Operator } from '../operator/operator.ts';

/** Bad input from the user (a file, a custom resource, a flag): the command line exits 2 with its message. */
export class InputError extends Error {
  override name = 'InputError';
}

/** Reads a file holding exactly one custom resource (apiVersion, kind, metadata.name). */
export async function readCustomResource(file: string): Promise<KubeObject> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const docs = parseAllDocuments(text).filter((d) => d.contents !== null);
  if (docs.length !== 1) throw new InputError(`${file} must hold exactly one custom resource, found ${docs.length} documents`);
  const doc = docs[0]!;
  if (doc.errors.length) throw new InputError(`${file} is not valid YAML: ${doc.errors[0]!.message}`);
  const obj = doc.toJS() as Partial<KubeObject> | null;
  if (!obj || typeof obj !== 'object' || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    throw new InputError(`${file} has no apiVersion and kind`);
  }
  if (!obj.metadata || typeof obj.metadata.name !== 'string' || obj.metadata.name === '') {
    throw new InputError(`${file} has no metadata.name`);
  }
  return obj as KubeObject;
}

/** The operator whose resource matches an object's apiVersion and kind. */
export function findOperator(operators: Iterable<Operator<any>>, apiVersion: string, kind: string): Operator<any> | undefined {
  return [...operators].find((op) => `${op.resource.group}/${op.resource.version}` === apiVersion && op.resource.kind === kind);
}

export interface PlannedRender {
  operator: Operator<any>;
  owner: Owner;
  specs: Array<{ id: string; spec: KustomizeSpec }>;
}

/**
 * The operator for an object and the kustomize specs it would build, checked as the reconciler checks them:
 * a validation problem or a builder's error is bad input. `uid` (of the live object) gives ownerReferences.
 */
export function planRender(operators: Iterable<Operator<any>>, obj: KubeObject, opts: { namespace?: string | undefined; uid?: string | undefined; source?: string } = {}): PlannedRender {
  const list = [...operators];
  const operator = findOperator(list, obj.apiVersion, obj.kind);
  const source = opts.source ?? `${obj.kind} ${obj.metadata.name}`;
  if (!operator) {
    const known = list.map((o) => `${o.resource.kind} (${o.resource.group}/${o.resource.version})`).join(', ');
    throw new InputError(`no operator handles ${obj.kind} ${obj.apiVersion} (known: ${known})`);
  }
  const problems = operator.problems(obj);
  if (problems.length) throw new InputError(`${source}: ${problems.join('; ')}`);
  let specs;
  try {
    specs = operator.render(obj);
  } catch (err) {
    // The reconciler takes any error of a builder as InvalidSpec; so does render.
    throw new InputError(`${source}: ${(err as Error).message}`);
  }
  const namespace = obj.metadata.namespace ?? opts.namespace ?? 'default';
  const uid = opts.uid ?? obj.metadata.uid;
  return { operator, owner: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace, uid }, specs };
}

export interface RenderEnv {
  kubectl: KubectlRunner;
  /** Bases for an operator that names no basesDir of its own. */
  basesDir: string;
}

export interface RenderedSpec {
  id: string;
  /** The work dir, when it was kept. */
  dir?: string;
  /** `kubectl kustomize DIR`'s exit code, output and errors. */
  exitCode: number;
  output: string;
  stderr: string;
}

/**
 * Writes each spec's work dir and runs `kubectl kustomize` on it. With `keep`, the work dirs stay (in `out`: one
 * spec in OUT, several in OUT/<id>/; else new temporary folders); without, they are removed. Stops at the first
 * spec kubectl fails on.
 */
export async function renderPlanned(env: RenderEnv, plan: PlannedRender, opts: { keep?: boolean; out?: string | undefined } = {}): Promise<RenderedSpec[]> {
  const kenv = { kubectl: env.kubectl, basesDir: plan.operator.basesDir ?? env.basesDir };
  const rendered: RenderedSpec[] = [];
  for (const { id, spec } of plan.specs) {
    let one: RenderedSpec;
    if (opts.keep) {
      const into = opts.out && (plan.specs.length === 1 ? opts.out : path.join(opts.out, id));
      const { dir, result } = await renderSpec(kenv, spec, plan.owner, into);
      one = { id, dir, exitCode: result.exitCode, output: result.stdout, stderr: result.stderr };
    } else {
      const result = await withWorkdir(kenv, spec, plan.owner, (dir) => env.kubectl(renderArgs(dir)));
      one = { id, exitCode: result.exitCode, output: result.stdout, stderr: result.stderr };
    }
    rendered.push(one);
    if (one.exitCode !== 0) break;
  }
  return rendered;
}

/**
 * The text `kustomate render` prints and golden files hold: kubectl's YAML, and for several specs a `# <id>` line
 * before each one's documents, separated by `---`, so the whole stays one valid multi-document YAML stream.
 */
export function renderedText(specs: RenderedSpec[]): string {
  if (specs.length === 1) return `${specs[0]!.output}\n`;
  return specs.map((s) => `# ${s.id}\n${s.output}\n`).join('---\n');
}
