// Why: the bundle format rules OLM relies on, checked on the files as written (operator-sdk's validator cannot be built here).
import fs from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/api.ts';
import { ANNOTATIONS, CSV_API_VERSION, INSTALL_MODES, MEDIATYPE, PACKAGE_NAME, SEMVER, SUPPORTED_KINDS } from './bundle.ts';
import { CHILD_VERBS, restResource } from '../scaffold/rbac.ts';
import { deploymentAccounts, permissionTuples, ruleTuples, type Permission, type Rule } from './permissions.ts';

/** A manifest as read: any object with a kind and a name. */
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; [key: string]: any }; [key: string]: any };

/** A bundle as read from its folder. */
export interface BundleFiles {
  manifests: Array<{ file: string; obj: Manifest }>;
  annotations?: Record<string, unknown> | undefined;
  dockerfile?: string | undefined;
}

/** Reads DIR/manifests/*.yaml, DIR/metadata/annotations.yaml and DIR/bundle.Dockerfile; a file that does not parse is a problem. */
export async function readBundle(dir: string): Promise<{ files: BundleFiles; problems: string[] }> {
  const problems: string[] = [];
  const manifests: BundleFiles['manifests'] = [];
  const names = await fs.readdir(path.join(dir, 'manifests')).catch(() => undefined);
  if (!names) problems.push('manifests/ is missing');
  for (const name of (names ?? []).sort()) {
    const docs = parseAllDocuments(await fs.readFile(path.join(dir, 'manifests', name), 'utf8'));
    const objs = docs.filter((d) => d.contents !== null);
    if (objs.length !== 1 || objs[0]!.errors.length) {
      problems.push(`manifests/${name} must hold exactly one valid YAML object`);
      continue;
    }
    manifests.push({ file: `manifests/${name}`, obj: objs[0]!.toJS() });
  }
  const annotationsText = await fs.readFile(path.join(dir, 'metadata', 'annotations.yaml'), 'utf8').catch(() => undefined);
  let annotations: Record<string, unknown> | undefined;
  if (annotationsText === undefined) problems.push('metadata/annotations.yaml is missing');
  else {
    try {
      annotations = (parse(annotationsText) as { annotations?: Record<string, unknown> } | null)?.annotations;
    } catch (err) {
      problems.push(`metadata/annotations.yaml is not valid YAML: ${(err as Error).message}`);
    }
    if (annotationsText !== undefined && !annotations) problems.push('metadata/annotations.yaml has no annotations map');
  }
  const dockerfile = await fs.readFile(path.join(dir, 'bundle.Dockerfile'), 'utf8').catch(() => undefined);
  if (dockerfile === undefined) problems.push('bundle.Dockerfile is missing');
  return { files: { manifests, annotations, dockerfile }, problems };
}

function annotationProblems(files: BundleFiles, packageName: string | undefined): string[] {
  const a = files.annotations;
  if (!a) return [];
  const problems: string[] = [];
  const want: Record<string, string> = { [ANNOTATIONS.mediatype]: MEDIATYPE, [ANNOTATIONS.manifests]: 'manifests/', [ANNOTATIONS.metadata]: 'metadata/' };
  for (const [key, value] of Object.entries(want)) if (a[key] !== value) problems.push(`annotations.yaml: ${key} must be ${value}, got ${JSON.stringify(a[key])}`);
  const pkg = a[ANNOTATIONS.package];
  if (typeof pkg !== 'string' || !PACKAGE_NAME.test(pkg)) problems.push(`annotations.yaml: ${ANNOTATIONS.package} must name the package, got ${JSON.stringify(pkg)}`);
  else if (packageName && pkg !== packageName) problems.push(`annotations.yaml: package ${pkg} is not the CSV's package ${packageName}`);
  const channels = typeof a[ANNOTATIONS.channels] === 'string' ? (a[ANNOTATIONS.channels] as string).split(',') : [];
  if (channels.length === 0 || !channels.every((c) => PACKAGE_NAME.test(c))) problems.push(`annotations.yaml: ${ANNOTATIONS.channels} must list one or more channels, got ${JSON.stringify(a[ANNOTATIONS.channels])}`);
  const def = a[ANNOTATIONS.defaultChannel];
  if (def !== undefined && !channels.includes(def as string)) problems.push(`annotations.yaml: the default channel ${JSON.stringify(def)} is not one of the channels`);
  // bundle.Dockerfile labels the image with the same annotations, and copies both folders to the image's root.
  if (files.dockerfile !== undefined) {
    const labels = Object.fromEntries([...files.dockerfile.matchAll(/^LABEL (\S+?)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    if (!isDeepStrictEqual(labels, Object.fromEntries(Object.entries(a).map(([k, v]) => [k, String(v)])))) problems.push('bundle.Dockerfile: its LABELs differ from annotations.yaml');
    for (const folder of ['manifests', 'metadata']) {
      if (!new RegExp(`^COPY ${folder} /${folder}/$`, 'm').test(files.dockerfile)) problems.push(`bundle.Dockerfile: no COPY ${folder} /${folder}/`);
    }
  }
  return problems;
}

function ownedProblems(csv: Manifest, crds: Manifest[]): string[] {
  const problems: string[] = [];
  const owned: Array<Record<string, any>> = csv.spec?.customresourcedefinitions?.owned ?? [];
  for (const crd of crds) {
    for (const v of (crd.spec?.versions ?? []) as Array<{ name: string; served?: boolean }>) {
      if (!v.served) continue;
      if (!owned.some((o) => o.name === crd.metadata.name && o.version === v.name && o.kind === crd.spec.names?.kind)) {
        problems.push(`CSV: owned CRDs lack ${crd.metadata.name} version ${v.name} (kind ${crd.spec.names?.kind})`);
      }
    }
  }
  for (const o of owned) {
    const crd = crds.find((c) => c.metadata.name === o.name);
    if (!crd) problems.push(`CSV: owned CRD ${o.name} is not in manifests/`);
    else if (!(crd.spec?.versions ?? []).some((v: { name: string; served?: boolean }) => v.name === o.version && v.served) || crd.spec.names?.kind !== o.kind) {
      problems.push(`CSV: owned CRD ${o.name} ${o.version} ${o.kind} does not match the CRD's served versions and kind`);
    }
    if (!o.displayName || !o.description) problems.push(`CSV: owned CRD ${o.name} ${o.version} needs a displayName and a description`);
  }
  // Examples: valid JSON, each of an owned kind, and one for every owned kind.
  let examples: Array<{ apiVersion?: string; kind?: string }> = [];
  try {
    examples = JSON.parse(csv.metadata?.annotations?.['alm-examples'] ?? 'null') ?? [];
    if (!Array.isArray(examples)) throw new Error('not a list');
  } catch (err) {
    problems.push(`CSV: alm-examples must be a JSON list of custom resources (${(err as Error).message})`);
    examples = [];
  }
  const apiOf = (o: Record<string, any>) => `${o.name.split('.').slice(1).join('.')}/${o.version}`;
  for (const e of examples) {
    if (!owned.some((o) => apiOf(o) === e.apiVersion && o.kind === e.kind)) problems.push(`CSV: alm-examples holds a ${e.kind} ${e.apiVersion}, which is not an owned CRD`);
  }
  for (const kind of new Set(owned.map((o) => o.kind))) {
    if (!examples.some((e) => e.kind === kind)) problems.push(`CSV: alm-examples has no example ${kind}`);
  }
  return problems;
}

/** The Deployment's pod selector selects its own template, and every container names an image. */
function deploymentProblems(d: Record<string, any>): string[] {
  const problems: string[] = [];
  const name = d.name ?? '(no name)';
  if (!d.name) problems.push('CSV: an install deployment has no name');
  const selector: Record<string, string> = d.spec?.selector?.matchLabels ?? {};
  const labels: Record<string, string> = d.spec?.template?.metadata?.labels ?? {};
  if (Object.keys(selector).length === 0) problems.push(`CSV: deployment ${name} has no selector.matchLabels`);
  if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) problems.push(`CSV: deployment ${name}'s selector does not select its pod template`);
  const containers: Array<Record<string, any>> = d.spec?.template?.spec?.containers ?? [];
  if (containers.length === 0) problems.push(`CSV: deployment ${name} has no containers`);
  for (const c of containers) if (!c.name || !c.image) problems.push(`CSV: deployment ${name} has a container without a name or an image`);
  return problems;
}

/** The same Deployment spec, but for the images (the bundle may name another). */
const withoutImages = (spec: any) => {
  const copy = structuredClone(spec ?? {});
  for (const c of copy?.template?.spec?.containers ?? []) delete c.image;
  return copy;
};

/** What the install base grants, per ServiceAccount, as tuples: cluster-wide (ClusterRoleBindings) and namespaced (RoleBindings). */
function installGrants(install: KubeObject[]): { cluster: Map<string, string[]>; namespaced: Map<string, string[]> } {
  const accounts = deploymentAccounts(install);
  const rulesOf = (kind: string, name: string) => ((install.find((o) => o.kind === kind && o.metadata.name === name) as { rules?: Rule[] } | undefined)?.rules ?? []);
  const cluster = new Map<string, Rule[]>();
  const namespaced = new Map<string, Rule[]>();
  for (const b of install as Array<KubeObject & { roleRef?: { kind: string; name: string }; subjects?: Array<{ kind: string; name: string }> }>) {
    if (b.kind !== 'ClusterRoleBinding' && b.kind !== 'RoleBinding') continue;
    const subjects = b.subjects ?? [];
    if (subjects.length === 0 || !subjects.every((s) => s.kind === 'ServiceAccount' && accounts.has(s.name))) continue;
    const into = b.kind === 'ClusterRoleBinding' ? cluster : namespaced;
    for (const s of subjects) into.set(s.name, [...(into.get(s.name) ?? []), ...rulesOf(b.roleRef!.kind, b.roleRef!.name)]);
  }
  const tuples = (m: Map<string, Rule[]>) => new Map([...m].map(([sa, rules]) => [sa, ruleTuples(rules)]));
  return { cluster: tuples(cluster), namespaced: tuples(namespaced) };
}

function compareGrants(what: string, csv: Permission[] | undefined, install: Map<string, string[]>): string[] {
  const problems: string[] = [];
  const have = permissionTuples(csv);
  for (const sa of new Set([...have.keys(), ...install.keys()])) {
    const a = have.get(sa) ?? [];
    const b = install.get(sa) ?? [];
    const extra = a.filter((t) => !b.includes(t));
    const missing = b.filter((t) => !a.includes(t));
    if (extra.length) problems.push(`CSV: ${what} of ${sa} grant more than the install base: ${extra.slice(0, 5).join(', ')}`);
    if (missing.length) problems.push(`CSV: ${what} of ${sa} lack what the install base grants: ${missing.slice(0, 5).join(', ')}`);
  }
  return problems;
}

/**
 * The bundle format rules: exactly one CSV; every owned CRD present, listed with each served version; annotations
 * with the mediatype, package and channels (and bundle.Dockerfile labelled alike); only kinds OLM installs; the
 * install strategy's Deployments complete. With `install` (the install base as rendered), also: the Deployments are
 * the install base's, and permissions and clusterPermissions grant exactly what its RBAC grants.
 */
export function bundleProblems(files: BundleFiles, install?: KubeObject[]): string[] {
  const problems: string[] = [];
  const csvs = files.manifests.filter((m) => m.obj.kind === 'ClusterServiceVersion');
  if (csvs.length !== 1) problems.push(`manifests/ must hold exactly one ClusterServiceVersion, found ${csvs.length}`);
  for (const m of files.manifests) {
    if (!SUPPORTED_KINDS.includes(m.obj.kind)) problems.push(`${m.file}: OLM does not install a ${m.obj.kind} from a bundle`);
  }
  const csv = csvs[0]?.obj;
  if (!csv) return [...problems, ...annotationProblems(files, undefined)];
  if (csv.apiVersion !== CSV_API_VERSION) problems.push(`CSV: apiVersion must be ${CSV_API_VERSION}`);
  const version: unknown = csv.spec?.version;
  if (typeof version !== 'string' || !SEMVER.test(version)) problems.push(`CSV: spec.version must be a semantic version, got ${JSON.stringify(version)}`);
  const packageName = typeof version === 'string' && csv.metadata?.name?.endsWith(`.v${version}`) ? csv.metadata.name.slice(0, -`.v${version}`.length) : undefined;
  if (!packageName) problems.push(`CSV: metadata.name must be <package>.v<spec.version>, got ${csv.metadata?.name}`);
  if (!csv.spec?.displayName || !csv.spec?.description) problems.push('CSV: spec.displayName and spec.description must be set');
  const modes: Array<{ type: string; supported: boolean }> = csv.spec?.installModes ?? [];
  if (!INSTALL_MODES.every((t) => modes.filter((m) => m.type === t).length === 1) || modes.length !== INSTALL_MODES.length || !modes.some((m) => m.supported)) {
    problems.push(`CSV: installModes must list ${INSTALL_MODES.join(', ')} once each, at least one supported`);
  }
  problems.push(...annotationProblems(files, packageName));
  problems.push(...ownedProblems(csv, files.manifests.filter((m) => m.obj.kind === 'CustomResourceDefinition').map((m) => m.obj)));

  const strategy = csv.spec?.install;
  const deployments: Array<Record<string, any>> = strategy?.spec?.deployments ?? [];
  if (strategy?.strategy !== 'deployment') problems.push('CSV: spec.install.strategy must be deployment');
  if (deployments.length === 0) problems.push('CSV: the install strategy has no deployments');
  for (const d of deployments) problems.push(...deploymentProblems(d));
  const permitted = new Set([...(strategy?.spec?.permissions ?? []), ...(strategy?.spec?.clusterPermissions ?? [])].map((p: Permission) => p.serviceAccountName));
  for (const d of deployments) {
    const sa = d.spec?.template?.spec?.serviceAccountName ?? 'default';
    if (!permitted.has(sa)) problems.push(`CSV: deployment ${d.name} runs as ${sa}, which no permissions entry names (OLM would not create it)`);
  }
  if (install) {
    for (const want of install.filter((o) => o.kind === 'Deployment') as Array<KubeObject & { spec?: unknown }>) {
      const got = deployments.find((d) => d.name === want.metadata.name);
      if (!got) problems.push(`CSV: the install base's Deployment ${want.metadata.name} is not in the install strategy`);
      else if (!isDeepStrictEqual(withoutImages(got.spec), withoutImages(want.spec))) problems.push(`CSV: deployment ${want.metadata.name}'s spec differs from the install base's`);
    }
    const grants = installGrants(install);
    problems.push(...compareGrants('clusterPermissions', strategy?.spec?.clusterPermissions, grants.cluster));
    problems.push(...compareGrants('permissions', strategy?.spec?.permissions, grants.namespaced));
  }
  return problems;
}

/** Reads the bundle in DIR and returns every rule it breaks; empty when it is sound. */
export async function checkBundle(dir: string, install?: KubeObject[]): Promise<string[]> {
  const { files, problems } = await readBundle(dir);
  return [...problems, ...bundleProblems(files, install)];
}

/**
 * The install RBAC covers what the operators render: every kind the examples render is granted to the operator's
 * ServiceAccounts cluster-wide with the verbs kustomate uses on a child (get, list, watch, create, patch, delete).
 */
export function coverageProblems(children: Array<{ apiVersion: string; kind: string }>, clusterPermissions: Permission[] | undefined): string[] {
  const granted = new Set([...permissionTuples(clusterPermissions).values()].flat());
  const problems = new Set<string>();
  for (const child of children) {
    const { group, resource } = restResource(child.apiVersion, child.kind);
    const grants = (verb: string) => [group, '*'].some((g) => [resource, '*'].some((r) => [verb, '*'].some((v) => granted.has(`${g}|${r}|*|${v}`))));
    const missing = CHILD_VERBS.filter((verb) => !grants(verb));
    if (missing.length) problems.add(`RBAC: the examples render ${child.kind} (${group || 'core'}/${resource}), but the install base does not grant ${missing.join(', ')} on it`);
  }
  return [...problems];
}
