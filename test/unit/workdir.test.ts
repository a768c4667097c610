import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { readCustomResource } from '../../src/cli/render.ts';
import { DEFAULT_BASES_DIR } from '../../src/kustomize/bases.ts';
import { createKubectlRunner } from '../../src/kubectl/runner.ts';
import { createWorkdir, type KustomizeSpec, type Owner } from '../../src/kustomize/workdir.ts';
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

  it('refuses a base with no kustomization.yaml, and file names that leave the folder', async () => {
    await expect(createWorkdir({ base: 'no-such-base' }, owner('x'), { basesDir: DEFAULT_BASES_DIR })).rejects.toThrow(/no kustomization.yaml/);
    await expect(createWorkdir({ base: '../sample' }, owner('x'), { basesDir: DEFAULT_BASES_DIR })).rejects.toThrow(/plain file name/);
    await expect(createWorkdir({ base: 'sample', files: { '../evil': 'x' } }, owner('x'), { basesDir: DEFAULT_BASES_DIR })).rejects.toThrow(/plain file name/);
  });
});
