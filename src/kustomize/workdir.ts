// Why: each reconcile gets its own copy of the base plus generated files, so instances never share a folder.
import fs from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { stringify } from 'yaml';
import { OWNER_UID_ANNOTATION, ownerLabels, ownerReference } from './labels.ts';

/** A kustomize patch target (https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/patches/). */
export interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
}

/** What a handler asks for: a base and the objects to put beside it. Plain data; serialized with `yaml`. */
export interface KustomizeSpec {
  /** Folder name of the base under the bases directory, e.g. `sample` for kustomize/sample/. */
  base: string;
  /** Strategic-merge patches, one object each; the first is written as patch.yaml, as in the training. */
  patches?: object[];
  /** JSON 6902 patches, each with its target. */
  jsonPatches?: Array<{ target: PatchTarget; ops: object[] }>;
  /** Extra kustomization.yaml fields (images, components, secretGenerator, ...), merged into the instance layer. */
  kustomization?: Record<string, unknown>;
  /** Extra files written into the instance layer, e.g. for generators: name -> text. */
  files?: Record<string, string>;
  /** Name prefix for every object; default `<name>-`. Use '' when patches give objects their exact names. */
  namePrefix?: string;
  /**
   * Objects that outlive the custom resource (a backup volume): no ownerReference, so the garbage collector leaves
   * them, and kustomate never records or deletes them. One that exists counts as this resource's when it carries
   * its owner label, so a namesake created later takes it over.
   */
  retain?: boolean;
}

/** The custom resource the rendered objects belong to. */
export interface Owner {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  /** Without a uid (a file rendered offline) no ownerReferences can be written. */
  uid?: string | undefined;
}

export interface Workdir {
  dir: string;
  /** Removes the folder, unless it was created with keep. Safe to call twice. */
  cleanup(): Promise<void>;
}

export interface WorkdirOptions {
  basesDir: string;
  /** Keep the folder after cleanup() (for debugging, `--keep-workdirs`). */
  keep?: boolean;
  /** Write into this folder instead of a fresh temporary one (it must be empty or absent). */
  into?: string;
}

/** The work dir could not be built (a missing base, a bad file name): retried with backoff, as the base may be fixed. */
export class BuildError extends Error {
  override name = 'BuildError';
  readonly reason = 'BuildFailed';
}

/**
 * Temporary work dirs are named kustomate-<pid>-<start>-…, <start> being when the process started, so a restarted
 * operator can find a dead one's leftovers. A pid alone does not tell processes apart: a container that restarts
 * runs its process under the same pid again (1, or 2 under an init), and finds its predecessor's work dirs in a /tmp
 * that outlived it, as a pod's emptyDir does. Names without a start time (kustomate 0.1's) are told apart by pid.
 */
export const WORKDIR_PREFIX = 'kustomate';
const WORKDIR_NAME = new RegExp(`^${WORKDIR_PREFIX}-(\\d+)-(?:(\\d+)-)?`);

/**
 * When process `pid` started: field 22 of /proc/<pid>/stat, in clock ticks since boot
 * (https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html); undefined for no such process, or without /proc.
 */
async function startTime(pid: number): Promise<string | undefined> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // Field 2, the command name, is in parentheses and may hold spaces: count from after the last ')'.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

let ownStart: Promise<string> | undefined;
/** This process's start time as its work dirs carry it (without /proc: when it started, in ms since the epoch). */
function processStart(): Promise<string> {
  ownStart ??= startTime(process.pid).then((t) => t ?? String(Math.round(performance.timeOrigin)));
  return ownStart;
}

/** The name prefix of this process's temporary folders: kustomate-<pid>-<start>. */
export async function workdirPrefix(): Promise<string> {
  return `${WORKDIR_PREFIX}-${process.pid}-${await processStart()}`;
}

/** The instance layer: the base, its namespace, labels, name prefix and the handler's patches. */
export function instanceKustomization(spec: KustomizeSpec, owner: Owner): Record<string, unknown> {
  const patches: Array<Record<string, unknown>> = (spec.patches ?? []).map((_, i) => ({ path: patchFile(i) }));
  for (const jp of spec.jsonPatches ?? []) patches.push({ target: jp.target, patch: stringify(jp.ops) });
  const extra = { ...(spec.kustomization ?? {}) };
  const namePrefix = spec.namePrefix ?? `${owner.name}-`;
  const labels = ownerLabels(owner);
  const extraResources = Array.isArray(extra.resources) ? (extra.resources as string[]) : [];
  delete extra.resources;
  return {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: ['base', ...extraResources],
    namespace: owner.namespace,
    // A per-instance prefix: two custom resources in one namespace never share an object name.
    ...(namePrefix ? { namePrefix } : {}),
    labels: [
      { pairs: labels.common, includeSelectors: false, includeTemplates: true },
      // In selectors too, so a Service or Deployment selects only this instance's pods.
      { pairs: labels.owner, includeSelectors: true },
    ],
    ...(patches.length ? { patches } : {}),
    ...extra,
  };
}

/**
 * The top layer: ownerReferences on namespaced objects only. It sits above the instance layer because kustomize
 * runs patches before its namespace transformer; here, after it, `target.namespace` selects exactly the objects
 * that are namespaced (cluster-scoped ones have none, and a namespaced owner is invalid for them:
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/).
 */
export function topKustomization(owner: Owner, retain = false): Record<string, unknown> {
  const top: Record<string, unknown> = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['instance'] };
  if (owner.uid) {
    const value = [ownerReference({ ...owner, uid: owner.uid })];
    if (!retain) top.patches = [{ target: { namespace: owner.namespace }, patch: stringify([{ op: 'add', path: '/metadata/ownerReferences', value }]) }];
    // On every object, cluster-scoped and retained ones included: what tells this owner's children from a
    // namesake's, and which owner a retained object's events wake.
    top.commonAnnotations = { [OWNER_UID_ANNOTATION]: owner.uid };
  }
  return top;
}

function patchFile(i: number): string {
  return i === 0 ? 'patch.yaml' : `patch-${i + 1}.yaml`;
}

function safeFileName(name: string): string {
  if (name !== path.basename(name) || name.startsWith('.') || name === 'kustomization.yaml') {
    throw new BuildError(`work dir file name "${name}" must be a plain file name`);
  }
  return name;
}

/** Builds DIR = { kustomization.yaml, instance/{kustomization.yaml, base/, patch.yaml, ...} }. */
export async function createWorkdir(spec: KustomizeSpec, owner: Owner, opts: WorkdirOptions): Promise<Workdir> {
  const baseDir = path.join(opts.basesDir, safeFileName(spec.base));
  if (!(await exists(path.join(baseDir, 'kustomization.yaml')))) {
    throw new BuildError(`kustomize base ${baseDir} has no kustomization.yaml`);
  }
  let dir: string;
  let remove: () => Promise<void>;
  if (opts.into) {
    dir = path.resolve(opts.into);
    if ((await exists(dir)) && (await fs.readdir(dir)).length > 0) throw new Error(`output folder ${dir} is not empty`);
    await fs.mkdir(dir, { recursive: true });
    remove = async () => {};
  } else {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), `${await workdirPrefix()}-`));
    remove = () => fs.rm(dir, { recursive: true, force: true });
  }
  try {
    const instance = path.join(dir, 'instance');
    await copyBase(baseDir, path.join(instance, 'base'));
    for (const [i, patch] of (spec.patches ?? []).entries()) await fs.writeFile(path.join(instance, patchFile(i)), stringify(patch));
    for (const [name, text] of Object.entries(spec.files ?? {})) await fs.writeFile(path.join(instance, safeFileName(name)), text, { mode: 0o600 });
    await fs.writeFile(path.join(instance, 'kustomization.yaml'), stringify(instanceKustomization(spec, owner)));
    await fs.writeFile(path.join(dir, 'kustomization.yaml'), stringify(topKustomization(owner, spec.retain)));
  } catch (err) {
    if (!opts.into) await remove();
    throw err;
  }
  let done = false;
  return {
    dir,
    cleanup: async () => {
      if (done || opts.keep) return;
      done = true;
      await remove();
    },
  };
}

const exists = (file: string) => fs.access(file).then(() => true, () => false);

/**
 * Copies a base into a new folder: its folders and files, symlinks followed. fs.cp first checks every path against
 * the destination (new and empty here), which took about half of a work dir's build. Anything but a file or a
 * folder (a FIFO would block the copy until something writes to it) is a build error.
 */
async function copyBase(from: string, to: string): Promise<void> {
  await fs.mkdir(to, { recursive: true });
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = entry.isSymbolicLink() ? await fs.stat(source) : entry;
    if (target.isDirectory()) await copyBase(source, path.join(to, entry.name));
    else if (target.isFile()) await fs.copyFile(source, path.join(to, entry.name));
    else throw new BuildError(`kustomize base file ${source} is neither a file nor a folder`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process that named a work dir `pid` and `start` still runs (it is not this one). */
async function running(pid: number, start: string): Promise<boolean> {
  // This pid with another start time: an earlier process that had this pid (a restarted container's).
  if (pid === process.pid) return false;
  const now = await startTime(pid);
  // Without /proc (or where it hides other users' processes), a live pid is taken to be the same process.
  return now === undefined ? alive(pid) : now === start;
}

/**
 * Removes work dirs that a process left behind: those of dead processes (a SIGKILLed operator, or the previous
 * run of a restarted container), and with `includeOwn` this process's own (at shutdown). Returns the folders removed.
 */
export async function removeLeftoverWorkdirs(opts: { tmpdir?: string; includeOwn?: boolean } = {}): Promise<string[]> {
  const tmp = opts.tmpdir ?? os.tmpdir();
  const start = await processStart();
  const removed: string[] = [];
  for (const name of await fs.readdir(tmp).catch(() => [] as string[])) {
    const m = WORKDIR_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const own = pid === process.pid && (m[2] === undefined || m[2] === start);
    const live = m[2] === undefined ? alive(pid) : await running(pid, m[2]);
    if (own ? !opts.includeOwn : live) continue;
    await fs.rm(path.join(tmp, name), { recursive: true, force: true }).then(() => removed.push(name), () => {});
  }
  return removed;
}
