// Why: `kustomate bundle`: an OLM bundle of the built-in operators or of a project's own, written and then checked.
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { buildBundle, PACKAGE_NAME, SEMVER, type CrdFile } from '../bundle/bundle.ts';
import { checkBundle, coverageProblems } from '../bundle/check.ts';
import type { KubeObject } from '../kube/api.ts';
import { createKubectlRunner, type KubectlRunner } from '../kubectl/runner.ts';
import { renderArgs, renderOutput } from '../kustomize/commands.ts';
import type { Operator } from '../operator/operator.ts';
import { InputError, findOperator, planRender, renderPlanned } from '../render/render.ts';
import { PACKAGE_ROOT } from '../scaffold/project.ts';
import { candidates } from './render.ts';

export interface BundleFlags {
  version: string;
  channel: string;
  defaultChannel?: string;
  operator?: string[];
  crds?: string;
  install?: string;
  examples?: string[];
  package?: string;
  image?: string;
  out: string;
  kubectl: string;
  bases: string;
}

/** All YAML documents of a file, or of the *.yaml files directly in a folder. */
async function yamlObjects(where: string): Promise<Array<{ file: string; obj: KubeObject; comment?: string | undefined }>> {
  const stat = await fs.stat(where).catch(() => undefined);
  if (!stat) throw new InputError(`${where}: no such file or folder`);
  const files = stat.isDirectory() ? (await fs.readdir(where)).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(where, f)) : [where];
  const out: Array<{ file: string; obj: KubeObject; comment?: string | undefined }> = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await fs.readFile(file, 'utf8'))) {
      if (doc.errors.length) throw new InputError(`${file} is not valid YAML: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as KubeObject | null;
      // The file's opening comment belongs to the document, or to its first node or key when no blank line follows it.
      const contents = doc.contents as { commentBefore?: string | null; items?: Array<{ key?: { commentBefore?: string | null } }> } | null;
      const comment = doc.commentBefore ?? contents?.commentBefore ?? contents?.items?.[0]?.key?.commentBefore ?? undefined;
      if (obj && typeof obj === 'object' && typeof obj.kind === 'string') out.push({ file, obj, comment });
    }
  }
  return out;
}

async function packageJson(dir: string): Promise<{ name?: string; description?: string; version?: string }> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8')) as { name?: string; description?: string };
  } catch {
    return {};
  }
}

/** `kubectl kustomize DIR`: the install base as it would be applied. */
async function renderInstall(kubectl: KubectlRunner, dir: string): Promise<KubeObject[]> {
  const r = await kubectl(renderArgs(dir));
  if (r.exitCode !== 0) throw new InputError(`kubectl kustomize ${dir} failed: ${r.stderr}`);
  return renderOutput(r);
}

/** What every example renders (operators without a kustomize spec render nothing). */
async function renderedChildren(kubectl: KubectlRunner, bases: string, operators: Operator<any>[], examples: KubeObject[]): Promise<KubeObject[]> {
  const children: KubeObject[] = [];
  for (const example of examples) {
    const operator = findOperator(operators, example.apiVersion, example.kind);
    if (!operator || operator.kustomizations().length === 0) continue;
    const specs = await renderPlanned({ kubectl, basesDir: bases }, planRender([operator], example, { source: `example ${example.kind} ${example.metadata.name}` }));
    for (const s of specs) {
      if (s.exitCode !== 0) throw new InputError(`example ${example.kind} ${example.metadata.name} does not render: ${s.stderr}`);
      children.push(...parseAllDocuments(s.output).map((d) => d.toJS() as KubeObject).filter((o) => o && typeof o.kind === 'string'));
    }
  }
  return children;
}

/** Writes the bundle into --out (its manifests/, metadata/ and bundle.Dockerfile replaced), then checks it; 1 when a check fails. */
export async function bundleCommand(flags: BundleFlags): Promise<number> {
  if (!SEMVER.test(flags.version)) throw new InputError(`--version "${flags.version}" must be a semantic version, such as 0.1.0 or 1.2.3-rc.1`);
  const channels = flags.channel.split(',').map((c) => c.trim());
  if (!channels.every((c) => PACKAGE_NAME.test(c))) throw new InputError(`--channel "${flags.channel}" must be one or more channel names (a-z, 0-9, -, .), comma-separated, such as alpha or stable,fast`);
  const defaultChannel = flags.defaultChannel ?? channels[0]!;
  if (!channels.includes(defaultChannel)) throw new InputError(`--default-channel ${defaultChannel} is not one of --channel ${flags.channel}`);

  // A project's own operator (--operator) keeps the layout `kustomate new` writes; else the built-in operators.
  const own = !!flags.operator?.length;
  const root = own ? process.cwd() : PACKAGE_ROOT;
  const pkg = await packageJson(root);
  const packageName = flags.package ?? (own ? pkg.name : 'kustomate');
  if (!packageName || !PACKAGE_NAME.test(packageName)) {
    throw new InputError(`package name ${JSON.stringify(packageName)} must be lower-case letters, digits, '-' and '.': pass --package NAME`);
  }
  const operators = await candidates(flags.operator);
  const kubectl = createKubectlRunner({ binary: flags.kubectl });
  const crdDir = flags.crds ?? path.join(root, 'crds');
  const installDir = flags.install ?? path.join(root, own ? 'deploy' : path.join('kustomize', 'kustomate'));
  const exampleSources = flags.examples?.length ? flags.examples : [path.join(root, own ? 'examples' : 'lab')];

  const crds: CrdFile[] = (await yamlObjects(crdDir))
    .filter(({ obj }) => obj.kind === 'CustomResourceDefinition')
    .map(({ obj, comment }) => ({ crd: obj as CrdFile['crd'], comment }));
  for (const op of operators) {
    if (!crds.some((c) => c.crd.metadata.name === `${op.resource.plural}.${op.resource.group}`)) {
      throw new InputError(`${crdDir} has no CRD ${op.resource.plural}.${op.resource.group} for operator ${op.name}`);
    }
  }
  const examples = (await Promise.all(exampleSources.map(yamlObjects))).flat().map((e) => e.obj).filter((o) => findOperator(operators, o.apiVersion, o.kind));
  const install = await renderInstall(kubectl, installDir);
  let bundle;
  try {
    bundle = buildBundle({
      packageName,
      version: flags.version,
      channels,
      defaultChannel,
      displayName: packageName,
      description: pkg.description ?? `The ${packageName} operator`,
      owned: operators.map((o) => o.resource),
      crds,
      install,
      examples,
      image: flags.image,
      builder: `kustomate-v${(await packageJson(PACKAGE_ROOT)).version ?? 'unknown'}`,
    });
  } catch (err) {
    throw new InputError((err as Error).message);
  }

  const out = path.resolve(flags.out);
  await fs.mkdir(out, { recursive: true });
  for (const old of ['manifests', 'metadata', 'bundle.Dockerfile']) await fs.rm(path.join(out, old), { recursive: true, force: true });
  await fs.mkdir(path.join(out, 'manifests'));
  await fs.mkdir(path.join(out, 'metadata'));
  for (const [file, obj] of Object.entries(bundle.manifests)) await fs.writeFile(path.join(out, file), stringify(obj, { aliasDuplicateObjects: false }));
  await fs.writeFile(path.join(out, 'metadata', 'annotations.yaml'), stringify({ annotations: bundle.annotations }));
  await fs.writeFile(path.join(out, 'bundle.Dockerfile'), bundle.dockerfile);
  process.stdout.write(`wrote ${out}: ${Object.keys(bundle.manifests).length} manifests, metadata/annotations.yaml, bundle.Dockerfile\n`);

  const problems = [
    ...(await checkBundle(out, install)),
    ...coverageProblems(await renderedChildren(kubectl, flags.bases, operators, examples), bundle.csv.spec.install.spec.clusterPermissions),
  ];
  for (const p of problems) process.stderr.write(`bundle check: ${p}\n`);
  if (problems.length) return 1;
  process.stdout.write(`bundle checks passed: one CSV (${bundle.csv.metadata.name}), ${operators.length} owned CRDs with their versions, annotations, the install Deployment, permissions equal to ${installDir}'s RBAC\n`);
  return 0;
}
