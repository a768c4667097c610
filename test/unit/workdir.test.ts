import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { readCustomResource } from '../../src/cli/render.ts';
import { DEFAULT_BASES_DIR } from '../../src/kustomize/bases.ts';
import { createKubectlRunner } from '../../src/kubectl/runner.ts';
import { withWorkdir } from '../../src/kustomize/commands.ts';
import { createWorkdir, removeLeftoverWorkdirs, workdirPrefix, type KustomizeSpec, type Owner } from '../../src/kustomize/workdir.ts';
import { OWNER_LABEL } from '../../src/kustomize/labels.ts';
import { sample, sampleCount } from '../../src/operators/sample/index.ts';
import { kubectlBinary } from '../helpers/kubectl-binary.ts';

const kubectl = createKubectlRunner({ binary: kubectlBinary() });
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

type Doc = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: unknown[] }; spec?: any };

async function render(spec: KustomizeSpec, owner: Owner, basesDir = DEFAULT_BASES_DIR): Promise<Doc[]> {
  const wd = await createWorkdir(spec, owner, { basesDir });
  cleanups.push(wd.cleanup);
  const result = await kubectl(['kustomize', wd.dir]);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return parseAllDocuments(result.stdout).map((d) => d.toJS() as Doc);
}

const owner = (name: string, uid?: string): Owner => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', name, namespace: 'demo', uid });

describe('kustomize work dir', () => {
  it("renders the seed's demo-obj.yaml as a Deployment with replicas 2 in namespace demo", async () => {
    const obj = await readCustomResource(path.resolve('lab/demo-obj.yaml'));
    const docs = await render(sample.render(obj)[0]!.spec, owner(obj.metadata.name));
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ kind: 'Deployment', metadata: { namespace: 'demo' }, spec: { replicas: 2 } });
  });

  it('refuses a count given as a string, even a numeric one, as the CRD does', () => {
    expect(() => sample.render({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: 's' }, spec: { count: '3' } })).toThrow(/spec.count must be a whole number/);
  });

  it('rejects counts that are not whole numbers ≥ 0, including YAML-looking strings', () => {
    for (const count of [-1, 1.5, '2\nkind: Secret', '1e3', 'null', null, undefined, true, [2]]) {
      const problem = sampleCount({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: 's' }, spec: { count } });
      expect(typeof problem, `count ${JSON.stringify(count)}`).toBe('string');
    }
  });

  it('keeps strings that look like YAML intact through the patch file and kustomize', async () => {
    const hostile = {
      a: 'yes',
      b: 'null',
      c: '0x10',
      d: '- a\n- b',
      e: '{x: 1}',
      f: 'value\n---\napiVersion: v1\nkind: Secret',
      g: '"quoted" and \'single\' #comment',
      h: '*alias &anchor !!tag',
    };
    const spec: KustomizeSpec = {
      base: 'sample',
      patches: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'demo-deploy', annotations: hostile }, spec: { replicas: 1 } }],
    };
    const wd = await createWorkdir(spec, owner('h'), { basesDir: DEFAULT_BASES_DIR });
    cleanups.push(wd.cleanup);
    const written = parse(await fs.readFile(path.join(wd.dir, 'instance', 'patch.yaml'), 'utf8'));
    expect(written.metadata.annotations).toEqual(hostile);
    const docs = parseAllDocuments((await kubectl(['kustomize', wd.dir])).stdout).map((d) => d.toJS() as Doc);
    expect(docs).toHaveLength(1);
    expect(docs[0]!.metadata.annotations).toEqual(hostile);
  });

  it('gives two instances in one namespace distinct names and selectors', async () => {
    const [a] = await render(sample.render({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: 'a' }, spec: { count: 1 } })[0]!.spec, owner('a'));
    const [b] = await render(sample.render({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: 'b' }, spec: { count: 1 } })[0]!.spec, owner('b'));
    expect(a!.metadata.name).not.toBe(b!.metadata.name);
    expect(a!.spec.selector.matchLabels[OWNER_LABEL]).toBe('sample.nuvolaris.org.a');
    expect(b!.spec.selector.matchLabels[OWNER_LABEL]).toBe('sample.nuvolaris.org.b');
  });

  it('adds ownerReferences to namespaced objects only', async () => {
    const bases = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-bases-'));
    cleanups.push(() => fs.rm(bases, { recursive: true, force: true }));
    await fs.mkdir(path.join(bases, 'mixed'));
    await fs.writeFile(path.join(bases, 'mixed', 'kustomization.yaml'), stringify({ resources: ['objects.yaml'] }));
    await fs.writeFile(
      path.join(bases, 'mixed', 'objects.yaml'),
      [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'cr' } }]
        .map((o) => stringify(o))
        .join('---\n'),
    );
    const docs = await render({ base: 'mixed' }, owner('o', 'uid-123'), bases);
    const cm = docs.find((d) => d.kind === 'ConfigMap')!;
    const cr = docs.find((d) => d.kind === 'ClusterRole')!;
    expect(cm.metadata.ownerReferences).toEqual([
      { apiVersion: 'nuvolaris.org/v1', kind: 'Sample', name: 'o', uid: 'uid-123', controller: true, blockOwnerDeletion: true },
    ]);
    expect(cr.metadata.ownerReferences).toBeUndefined();
  });

  it('gives retained objects (they outlive their owner) no ownerReference, but the owner label and uid annotation', async () => {
    const [d] = await render({ base: 'sample', retain: true }, owner('r', 'uid-9'));
    expect(d!.metadata.ownerReferences).toBeUndefined();
    expect(d!.metadata.labels?.[OWNER_LABEL]).toBe('sample.nuvolaris.org.r');
    expect(d!.metadata.annotations?.['kustomate.io/owner-uid']).toBe('uid-9');
  });

  it('removes its folder on cleanup, and keeps it when asked', async () => {
    const gone = await createWorkdir({ base: 'sample' }, owner('x'), { basesDir: DEFAULT_BASES_DIR });
    await gone.cleanup();
    await expect(fs.access(gone.dir)).rejects.toThrow();
    const kept = await createWorkdir({ base: 'sample' }, owner('x'), { basesDir: DEFAULT_BASES_DIR, keep: true });
    cleanups.push(() => fs.rm(kept.dir, { recursive: true, force: true }));
    await kept.cleanup();
    await expect(fs.access(path.join(kept.dir, 'kustomization.yaml'))).resolves.toBeUndefined();
  });

  it('copies the whole base: nested folders, symlinked files and folders as their targets, file modes kept', async () => {
    const bases = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-bases-'));
    cleanups.push(() => fs.rm(bases, { recursive: true, force: true }));
    const elsewhere = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-elsewhere-'));
    cleanups.push(() => fs.rm(elsewhere, { recursive: true, force: true }));
    await fs.mkdir(path.join(bases, 'web', 'components', 'extra'), { recursive: true });
    await fs.writeFile(path.join(bases, 'web', 'kustomization.yaml'), stringify({ resources: ['linked.yaml'], components: ['components/extra', 'shared'] }));
    await fs.writeFile(path.join(bases, 'web', 'components', 'extra', 'kustomization.yaml'), stringify({ kind: 'Component' }));
    await fs.writeFile(path.join(bases, 'web', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await fs.writeFile(path.join(elsewhere, 'cm.yaml'), stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }));
    await fs.mkdir(path.join(elsewhere, 'shared'));
    await fs.writeFile(path.join(elsewhere, 'shared', 'kustomization.yaml'), stringify({ kind: 'Component' }));
    await fs.symlink(path.join(elsewhere, 'cm.yaml'), path.join(bases, 'web', 'linked.yaml'));
    await fs.symlink(path.join(elsewhere, 'shared'), path.join(bases, 'web', 'shared'));

    const wd = await createWorkdir({ base: 'web' }, owner('x'), { basesDir: bases });
    cleanups.push(wd.cleanup);
    const copy = path.join(wd.dir, 'instance', 'base');
    const linked = await fs.lstat(path.join(copy, 'linked.yaml'));
    expect(linked.isFile()).toBe(true);
    expect(await fs.readFile(path.join(copy, 'linked.yaml'), 'utf8')).toBe(await fs.readFile(path.join(elsewhere, 'cm.yaml'), 'utf8'));
    expect((await fs.lstat(path.join(copy, 'shared'))).isDirectory()).toBe(true);
    expect(await fs.readdir(path.join(copy, 'shared'))).toEqual(['kustomization.yaml']);
    expect(await fs.readdir(path.join(copy, 'components', 'extra'))).toEqual(['kustomization.yaml']);
    expect((await fs.stat(path.join(copy, 'run.sh'))).mode & 0o777).toBe(0o755);
    // The copy stands alone: changing the original afterwards changes nothing in it.
    await fs.writeFile(path.join(elsewhere, 'cm.yaml'), 'changed\n');
    expect(await fs.readFile(path.join(copy, 'linked.yaml'), 'utf8')).not.toBe('changed\n');
  });

  it('refuses a base holding something that is neither a file nor a folder (a FIFO), and leaves no work dir', async () => {
    const bases = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-bases-'));
    cleanups.push(() => fs.rm(bases, { recursive: true, force: true }));
    await fs.mkdir(path.join(bases, 'web'));
    await fs.writeFile(path.join(bases, 'web', 'kustomization.yaml'), stringify({ resources: [] }));
    await execa('mkfifo', [path.join(bases, 'web', 'pipe')], { timeout: 10_000 });
    const before = new Set(await fs.readdir(os.tmpdir()));
    await expect(createWorkdir({ base: 'web' }, owner('x'), { basesDir: bases })).rejects.toThrow(/pipe is neither a file nor a folder/);
    const prefix = await workdirPrefix();
    expect((await fs.readdir(os.tmpdir())).filter((name) => name.startsWith(prefix) && !before.has(name))).toEqual([]);
  });

  it('refuses a base with no kustomization.yaml, and file names that leave the folder', async () => {
    await expect(createWorkdir({ base: 'no-such-base' }, owner('x'), { basesDir: DEFAULT_BASES_DIR })).rejects.toThrow(/no kustomization.yaml/);
    await expect(createWorkdir({ base: '../sample' }, owner('x'), { basesDir: DEFAULT_BASES_DIR })).rejects.toThrow(/plain file name/);
    await expect(createWorkdir({ base: 'sample', files: { '../evil': 'x' } }, owner('x'), { basesDir: DEFAULT_BASES_DIR })).rejects.toThrow(/plain file name/);
  });
});

// A new PID namespace (root only), whose first process is PID 1, as a container's is.
const unshare = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL'];
const canUnshare = process.getuid?.() === 0 && (await execa(unshare[0]!, [...unshare.slice(1), 'true'], { reject: false, timeout: 30_000 })).exitCode === 0;

describe('work dir removal', () => {
  const spec = (): KustomizeSpec => ({ base: 'sample', patches: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'demo-deploy' }, spec: { replicas: 1 } }] });
  const env = { kubectl, basesDir: DEFAULT_BASES_DIR };
  const exists = (dir: string) => fs.access(dir).then(() => true, () => false);

  it('removes the work dir before returning by default', async () => {
    let seen = '';
    await withWorkdir(env, spec(), owner('w1'), async (dir) => {
      seen = dir;
      expect(await exists(path.join(dir, 'kustomization.yaml'))).toBe(true);
    });
    expect(await exists(seen)).toBe(false);
  });

  it('with overlap, returns first and the work dir is still removed, also after a failure', async () => {
    const dirs: string[] = [];
    await withWorkdir(env, spec(), owner('w2'), async (dir) => void dirs.push(dir), 'overlap');
    await expect(withWorkdir(env, spec(), owner('w3'), async (dir) => {
      dirs.push(dir);
      throw new Error('apply failed');
    }, 'overlap')).rejects.toThrow('apply failed');
    await expect.poll(async () => (await Promise.all(dirs.map(exists))).some(Boolean), { timeout: 5_000 }).toBe(false);
    expect(dirs).toHaveLength(2);
  });
});

describe('work dirs left by other processes', () => {
  const fixture = fileURLToPath(new URL('./fixtures/workdir-process.ts', import.meta.url));
  const tmps: string[] = [];
  afterEach(async () => {
    for (const t of tmps.splice(0)) await fs.rm(t, { recursive: true, force: true });
  });
  const tmpdir = async () => {
    const t = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-left-'));
    tmps.push(t);
    return t;
  };
  const exists = (file: string) => fs.access(file).then(() => true, () => false);

  /** A process of its own (run through `wrapper`, if any) that makes one work dir in `tmp` and lives on. */
  async function holder(tmp: string, wrapper: string[] = []) {
    const [cmd, ...args] = [...wrapper, process.execPath, fixture, 'create'];
    const proc = execa(cmd!, args, { env: { TMPDIR: tmp }, timeout: 60_000, reject: false });
    const dir = await new Promise<string>((resolve, reject) => {
      proc.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
      void proc.then((r) => reject(new Error(`the work dir process ended: ${r.stderr}`)));
    });
    return { proc, name: path.basename(dir) };
  }

  it('names a work dir after its process (pid and start time), keeps it while that process runs, removes it once killed', async () => {
    const tmp = await tmpdir();
    const h = await holder(tmp);
    expect(h.name).toMatch(new RegExp(`^kustomate-${h.proc.pid}-\\d+-`));
    expect(await removeLeftoverWorkdirs({ tmpdir: tmp })).toEqual([]);
    h.proc.kill('SIGKILL');
    await h.proc;
    expect(await removeLeftoverWorkdirs({ tmpdir: tmp })).toEqual([h.name]);
    expect(await fs.readdir(tmp)).toEqual([]);
  });

  it("removes a work dir named with this process's pid but another start time (an earlier process with this pid), and its own only at shutdown", async () => {
    const tmp = await tmpdir();
    const prefix = await workdirPrefix();
    const start = Number(prefix.split('-')[2]);
    const own = `${prefix}-own`;
    const earlier = `kustomate-${process.pid}-${start - 1}-earlier`;
    for (const d of [own, earlier]) await fs.mkdir(path.join(tmp, d));
    expect(await removeLeftoverWorkdirs({ tmpdir: tmp })).toEqual([earlier]);
    expect(await removeLeftoverWorkdirs({ tmpdir: tmp, includeOwn: true })).toEqual([own]);
  });

  it('removes the work dir of a live pid whose process started at another time (the pid was reused)', async () => {
    const tmp = await tmpdir();
    const h = await holder(tmp);
    const reused = h.name.replace(/^(kustomate-\d+-)(\d+)-/, (_, head: string, start: string) => `${head}${Number(start) + 1}-`);
    await fs.mkdir(path.join(tmp, reused));
    expect(await removeLeftoverWorkdirs({ tmpdir: tmp })).toEqual([reused]);
    h.proc.kill('SIGKILL');
    await h.proc;
  });

  // A restarted container runs its process under the same pid as the killed one (1 here: each is the first process
  // of a new PID namespace, as in a container), in the /tmp the killed one left (a pod's emptyDir outlives it).
  it.skipIf(!canUnshare)(
    `as PID 1 again after a restart, removes the work dirs the killed PID 1 left${canUnshare ? '' : ' (skipped: needs root and unshare(1) for a PID namespace)'}`,
    async () => {
      const tmp = await tmpdir();
      const first = await holder(tmp, unshare);
      expect(first.name).toMatch(/^kustomate-1-\d+-/);
      first.proc.kill('SIGKILL');
      await first.proc;
      expect(await exists(path.join(tmp, first.name))).toBe(true);
      const again = await execa(unshare[0]!, [...unshare.slice(1), process.execPath, fixture, 'clean'], { env: { TMPDIR: tmp }, timeout: 60_000 });
      expect(JSON.parse(again.stdout)).toEqual([first.name]);
      expect(await fs.readdir(tmp)).toEqual([]);
    },
  );
});
