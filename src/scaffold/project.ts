// Why: `kustomate new` writes a standalone operator project that installs, type-checks and passes its own tests at once.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Document } from 'yaml';
import { DEFAULT_BASES_DIR } from '../kustomize/bases.ts';
import { InputError } from '../render/render.ts';
import { kustomateImage } from './image.ts';
import { projectNames, type ProjectInput, type ProjectNames } from './names.ts';
import * as t from './templates.ts';
import * as src from './sources.ts';

/** The root of the running kustomate package (a checkout, or node_modules/kustomate). */
export const PACKAGE_ROOT = path.resolve(DEFAULT_BASES_DIR, '..');

export interface NewOptions {
  dir: string;
  /** Write into a folder that is not empty (files of the same names are overwritten, others kept). */
  force?: boolean;
  /**
   * The kustomate dependency: a path to a .tgz (`npm pack` of a checkout), copied into vendor/; or an npm spec
   * written as is (a version range, `file:…`). Default: the running kustomate, packed into vendor/.
   */
  kustomate?: string | undefined;
  /** Run `npm install` and write the golden output files (default true). */
  install?: boolean;
  /** kubectl for the golden files (`kubectl kustomize`). */
  kubectl: string;
  log: (line: string) => void;
}

export interface NewProject {
  dir: string;
  names: ProjectNames;
  /** Paths written, relative to dir. */
  files: string[];
  installed: boolean;
}

/** YAML text of one or more objects, with a comment on top saying why the file exists. */
function yamlFile(comment: string, ...objects: object[]): string {
  return objects
    .map((obj, i) => {
      const doc = new Document(obj, { aliasDuplicateObjects: false });
      if (i === 0) doc.commentBefore = ` ${comment}`;
      return doc.toString();
    })
    .join('---\n');
}

const json = (obj: object) => `${JSON.stringify(obj, null, 2)}\n`;

/** The tool versions kustomate itself pins, and its image's name, so a new project gets what kustomate is tested with. */
async function toolVersions(): Promise<t.ToolVersions> {
  const pkg = JSON.parse(await fs.readFile(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    version: string;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const pick = (deps: Record<string, string> | undefined, name: string, fallback: string) => deps?.[name] ?? fallback;
  return {
    node: pick(pkg.devDependencies, 'node', '^24.0.0'),
    typescript: pick(pkg.devDependencies, 'typescript', '~5.9.3'),
    typesNode: pick(pkg.devDependencies, '@types/node', '^24.0.0'),
    execa: pick(pkg.dependencies, 'execa', '^10.0.0'),
    kustomateImage: kustomateImage(pkg.version),
  };
}

/** The most recently changed file under a folder (none when it does not exist, as in an installed package). */
async function newestChange(dir: string): Promise<{ file: string; mtimeMs: number } | undefined> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  let newest: { file: string; mtimeMs: number } | undefined;
  for (const e of entries) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    const { mtimeMs } = await fs.stat(file);
    if (!newest || mtimeMs > newest.mtimeMs) newest = { file, mtimeMs };
  }
  return newest;
}

/** Packs or copies kustomate into DIR/vendor/ and returns the dependency spec; an npm spec is returned as is. */
async function kustomateDependency(dir: string, spec: string | undefined, log: (line: string) => void): Promise<{ spec: string; vendored: boolean }> {
  if (spec !== undefined && !spec.endsWith('.tgz')) return { spec, vendored: false };
  const vendor = path.join(dir, 'vendor');
  await fs.mkdir(vendor, { recursive: true });
  if (spec !== undefined) {
    const stat = await fs.stat(spec).catch(() => undefined);
    if (!stat?.isFile()) throw new InputError(`--kustomate ${spec}: no such file`);
    await fs.copyFile(spec, path.join(vendor, path.basename(spec)));
    return { spec: `file:vendor/${path.basename(spec)}`, vendored: true };
  }
  const built = await fs.stat(path.join(PACKAGE_ROOT, 'dist', 'index.js')).catch(() => undefined);
  if (!built) throw new InputError(`${PACKAGE_ROOT} has no dist/ to pack: run \`npm run build\` there first, or pass --kustomate`);
  // In a checkout, a source file changed after the build would be missing from the package.
  const newer = await newestChange(path.join(PACKAGE_ROOT, 'src'));
  if (newer && newer.mtimeMs > built.mtimeMs) {
    throw new InputError(`${PACKAGE_ROOT}/dist is older than ${path.relative(PACKAGE_ROOT, newer.file)}: run \`npm run build\` there first, or pass --kustomate`);
  }
  log(`packing kustomate from ${PACKAGE_ROOT} into vendor/`);
  // --ignore-scripts: the package is packed as it is, dist/ included, without building it again.
  const packed = await execa('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', vendor, PACKAGE_ROOT], { timeout: 300_000 });
  const [first] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
  if (!first) throw new Error(`npm pack ${PACKAGE_ROOT} wrote nothing`);
  const filename = first.filename;
  return { spec: `file:vendor/${path.basename(filename)}`, vendored: true };
}

/** The project's files, by path relative to its folder. */
export function projectFiles(n: ProjectNames, dependency: { spec: string; vendored: boolean }, tools: t.ToolVersions): Record<string, string> {
  const base = t.baseObjects();
  const children = base as Array<{ apiVersion: string; kind: string }>;
  const example = t.exampleResource(n);
  const files: Record<string, string> = {
    'package.json': json(t.packageJson(n, dependency.spec, tools)),
    'tsconfig.json': json(t.tsconfig()),
    'src/operator.ts': src.operatorSource(n),
    [`crds/${n.crdName}.yaml`]: yamlFile(`The ${n.kind} kind (${n.group}/${n.version}): kubectl apply -f crds/ installs it.`, t.crd(n)),
    [`kustomize/${n.name}/kustomization.yaml`]: yamlFile(`The ${n.name} operator's base: copied for every ${n.kind}, with patch.yaml (spec.replicas) and patch-2.yaml (spec.message) beside it.`, t.baseKustomization()),
    [`examples/${n.singular}.yaml`]: yamlFile(`An example ${n.kind}: kubectl apply -f examples/${n.singular}.yaml`, example),
    [`test/golden/${n.singular}.in.yaml`]: yamlFile(`Golden input: what it renders must equal ${n.singular}.out.yaml (npm run golden -- --update rewrites it).`, example),
    'deploy/kustomization.yaml': yamlFile('Installs the operator: kubectl apply -f crds/ && kubectl apply -k deploy', t.installKustomization(n)),
    'deploy/namespace.yaml': yamlFile('The operator\'s own namespace.', t.installNamespace(n)),
    'deploy/rbac.yaml': yamlFile(
      `Least privilege: the ${n.plural} (load, watch, finalizer, status), exactly the kinds kustomize/${n.name}/ renders, Events, reading the CRD; and the leader election Lease in this namespace. A kind added to the base needs a rule here.`,
      ...t.installRbac(n, children),
    ),
    'deploy/deployment.yaml': yamlFile('The operator: kustomate runs src/operator.ts; two replicas would share the Lease.', t.installDeployment(n)),
    'test/operator.test.ts': src.unitTestSource(n),
    'test/golden.test.ts': src.goldenTestSource(),
    'test/e2e.test.ts': src.e2eTestSource(n),
    Dockerfile: src.dockerfile(n, dependency.vendored, tools.kustomateImage),
    'README.md': src.readme(n, tools.kustomateImage),
    '.gitignore': src.GITIGNORE,
    '.dockerignore': src.DOCKERIGNORE,
  };
  t.BASE_FILES.forEach((file, i) => (files[`kustomize/${n.name}/${file}`] = yamlFile(`Part of the ${n.name} base.`, base[i]!)));
  return files;
}

/** Refuses a DIR that is a file, or a folder with something in it (unless `force`). */
async function checkTarget(dir: string, force: boolean): Promise<void> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat) return;
  if (!stat.isDirectory()) throw new InputError(`${dir} exists and is not a folder`);
  if ((await fs.readdir(dir)).length > 0 && !force) throw new InputError(`${dir} exists and is not empty; choose another --dir, or pass --force to write into it`);
}

/** Writes the project; then (unless `install: false`) runs npm install and writes the golden output files. */
export async function createProject(input: ProjectInput, opts: NewOptions): Promise<NewProject> {
  const names = projectNames(input);
  const dir = path.resolve(opts.dir);
  await checkTarget(dir, opts.force ?? false);
  await fs.mkdir(dir, { recursive: true });
  const dependency = await kustomateDependency(dir, opts.kustomate, opts.log);
  const files = projectFiles(names, dependency, await toolVersions());
  for (const [file, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), text);
  }
  const written = Object.keys(files).sort();
  if (opts.install === false) return { dir, names, files: written, installed: false };
  opts.log('npm install');
  await execa('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, timeout: 900_000, stdout: 'inherit', stderr: 'inherit' });
  opts.log('npm run golden -- --update: writing the golden output files');
  await execa('npm', ['run', '--silent', 'golden', '--', '--update'], {
    cwd: dir,
    timeout: 300_000,
    env: { KUSTOMATE_KUBECTL: opts.kubectl },
    stdout: 'inherit',
    stderr: 'inherit',
  });
  return { dir, names, files: [...written, `test/golden/${names.singular}.out.yaml`, 'package-lock.json'].sort(), installed: true };
}
