// Why: which objects (kind, namespace, name) a work dir renders, known before anything is applied, without a
// `kubectl kustomize` per custom resource. Kustomize's strategic-merge patches find their target by kind and name
// and do not change either, unless they carry an annotation kustomize acts on, or patch an object of a generator
// (its hash suffix is computed after the patches)
// (https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/patches/). The namespace and name prefix
// are plain transformers. So every spec of the same shape (the same base files, without generators, remote
// resources or plugins; plain patches; no JSON patches, extra files or kustomization fields) renders the same
// objects but for its prefix and namespace. One render of that shape under a placeholder owner, kept, names them
// for every custom resource that shares it; anything else is rendered for each work dir.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import type { KubeObject } from '../kube/api.ts';
import type { KubectlRunner } from '../kubectl/runner.ts';
import { renderIn, withWorkdir, type KustomizeEnv } from './commands.ts';
import type { KustomizeSpec, Owner } from './workdir.ts';

/** An object a work dir renders, as far as who owns it goes. */
export interface Identity {
  apiVersion: string;
  kind: string;
  namespace?: string | undefined;
  name: string;
}

/** An identity as a rendered object would carry it. */
export const identityOf = (o: KubeObject): Identity => ({ apiVersion: o.apiVersion, kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });

/** The placeholder owner a shape is rendered for; its name prefix and namespace are replaced by the real ones. */
const PLACEHOLDER: Owner = { apiVersion: 'kustomate.io/v1', kind: 'Shape', name: 'kustomate-shape', namespace: 'shape-namespace-of-kustomate' };
const PLACEHOLDER_PREFIX = `${PLACEHOLDER.name}-`;
/** Shapes remembered per kubectl: an operator has a few; the bound only keeps a changing base from growing it. */
const SHAPES_KEPT = 32;

/** Per kubectl, per key: the shape's objects, or undefined for a base without a shape (told once, not per apply). */
const shapes = new WeakMap<KubectlRunner, Map<string, Promise<Identity[] | undefined>>>();

/**
 * Annotations kustomize reads itself: `internal.config.kubernetes.io/needsHashSuffix`, set by a patch, gives its
 * target a hash suffix, i.e. another name.
 */
const KUSTOMIZE_ANNOTATION = /(^|\.)(config\.kubernetes\.io|kustomize\.config\.k8s\.io)\//;
/** What a patch's metadata may hold and still be known to find its target only: no directives, nothing kustomize reads. */
function plainPatch(patch: object): boolean {
  const metadata = (patch as { metadata?: Record<string, unknown> }).metadata ?? {};
  if (Object.keys(metadata).some((k) => !['name', 'namespace', 'labels', 'annotations'].includes(k))) return false;
  return Object.keys((metadata.annotations as Record<string, unknown> | undefined) ?? {}).every((k) => !KUSTOMIZE_ANNOTATION.test(k));
}

/** Whether only the base, plain strategic-merge patches, the name prefix and the owner vary: nothing that renames. */
export function hasShape(spec: KustomizeSpec): boolean {
  return !spec.jsonPatches?.length && !Object.keys(spec.kustomization ?? {}).length && !Object.keys(spec.files ?? {}).length && (spec.patches ?? []).every(plainPatch);
}

/**
 * Kustomization fields of a base that make names depend on the patches applied above it (a generator's hash suffix
 * is computed after them), or on anything but the base's files (remote resources, plugins, replacements).
 */
const UNSHAPED_FIELDS = ['configMapGenerator', 'secretGenerator', 'generators', 'transformers', 'validators', 'helmCharts', 'helmChartInflationGenerator', 'replacements', 'openapi'];
const KUSTOMIZATION_FILES = new Set(['kustomization.yaml', 'kustomization.yml', 'Kustomization']);

/** Whether every kustomization in the base's files is one whose names only its own files decide. */
function shapedBase(files: Array<[string, Buffer]>): boolean {
  for (const [rel, content] of files) {
    if (!KUSTOMIZATION_FILES.has(path.basename(rel))) continue;
    let k: Record<string, unknown>;
    try {
      k = (parse(content.toString()) as Record<string, unknown> | null) ?? {};
    } catch {
      return false;
    }
    if (UNSHAPED_FIELDS.some((f) => f in k)) return false;
    const refs = [...((k.resources as unknown[]) ?? []), ...((k.components as unknown[]) ?? []), ...((k.bases as unknown[]) ?? [])];
    if (refs.some((r) => typeof r !== 'string' || /^[a-z][a-z0-9+.-]*:\/\/|^git@|^github\.com\//i.test(r))) return false;
  }
  return true;
}

/** The files of a folder, relative path → content, recursively (a copied base holds plain files and folders). */
async function filesOf(dir: string, under = ''): Promise<Array<[string, Buffer]>> {
  const out: Array<[string, Buffer]> = [];
  for (const entry of (await fs.readdir(path.join(dir, under), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = path.join(under, entry.name);
    if (entry.isDirectory()) out.push(...(await filesOf(dir, rel)));
    else out.push([rel, await fs.readFile(path.join(dir, rel))]);
  }
  return out;
}

/** Whether a base names the placeholder itself: then the placeholder's names could not be told from the base's. */
const namesPlaceholder = (files: Array<[string, Buffer]>) => files.some(([, content]) => content.includes(PLACEHOLDER.name) || content.includes(PLACEHOLDER.namespace!));

/** The shape's key: the base's files as the work dir holds them, and what of the spec decides names. */
function shapeKey(spec: KustomizeSpec, files: Array<[string, Buffer]>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ prefixed: spec.namePrefix !== '', retain: spec.retain === true }));
  for (const [rel, content] of files) hash.update(`\0${rel}\0${content.length}\0`).update(content);
  return hash.digest('hex');
}

/**
 * The shape's objects under the placeholder owner: its spec without patches (they rename nothing), rendered once,
 * from the work dir's own copy of the base, the very files the key was made of.
 */
async function renderShape(env: KustomizeEnv, spec: KustomizeSpec, workdir: string): Promise<Identity[]> {
  const shape: KustomizeSpec = { base: 'base', ...(spec.namePrefix === '' ? { namePrefix: '' } : { namePrefix: PLACEHOLDER_PREFIX }), ...(spec.retain ? { retain: true } : {}) };
  const rendered = await withWorkdir({ ...env, basesDir: path.join(workdir, 'instance'), keepWorkdirs: false }, shape, PLACEHOLDER, (dir) => renderIn(env, dir));
  return rendered.map(identityOf);
}

/** The shape's objects as this owner's work dir names them. */
function forOwner(identities: Identity[], spec: KustomizeSpec, owner: Owner): Identity[] {
  const prefix = spec.namePrefix ?? `${owner.name}-`;
  return identities.map((id) => ({
    ...id,
    // A Namespace object takes the namespace's name (kustomize's namespace transformer), and no prefix.
    name: id.name === PLACEHOLDER.namespace ? owner.namespace : prefix && id.name.startsWith(PLACEHOLDER_PREFIX) ? prefix + id.name.slice(PLACEHOLDER_PREFIX.length) : id.name,
    namespace: id.namespace === PLACEHOLDER.namespace ? owner.namespace : id.namespace,
  }));
}

/**
 * The objects the work dir `dir`, built from `spec` for `owner`, renders; undefined when the spec has no shape
 * (then only a render of the work dir itself tells), or when its shape does not render.
 */
export async function renderedIdentities(env: KustomizeEnv, spec: KustomizeSpec, owner: Owner, dir: string): Promise<Identity[] | undefined> {
  if (!hasShape(spec)) return undefined;
  const files = await filesOf(path.join(dir, 'instance', 'base'));
  const key = shapeKey(spec, files);
  let known = shapes.get(env.kubectl);
  if (!known) shapes.set(env.kubectl, (known = new Map()));
  let identities = known.get(key);
  if (!identities) {
    // Not cancelled with this reconcile: other objects of the shape may be waiting for the same render.
    identities = shapedBase(files) && !namesPlaceholder(files) ? renderShape({ ...env, signal: undefined }, spec, dir) : Promise.resolve(undefined);
    known.set(key, identities);
    if (known.size > SHAPES_KEPT) known.delete(known.keys().next().value!);
    identities.catch(() => known.delete(key));
  }
  const found = await identities.catch(() => undefined);
  return found && forOwner(found, spec, owner);
}
