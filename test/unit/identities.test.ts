// Which objects a work dir renders, known from its shape: always what the real `kubectl kustomize` of the very work
// dir names, for every owner, and without a kubectl run once the shape is known.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubectlRunner, type KubectlRunner } from '../../src/kubectl/runner.ts';
import { DEFAULT_BASES_DIR } from '../../src/kustomize/bases.ts';
import { renderIn } from '../../src/kustomize/commands.ts';
import { identityOf, renderedIdentities } from '../../src/kustomize/identities.ts';
import type { CustomResource } from '../../src/operator/operator.ts';
import { createWorkdir, type KustomizeSpec, type Owner } from '../../src/kustomize/workdir.ts';
import { gordon } from '../../src/operators/gordon/index.ts';
import { sample } from '../../src/operators/sample/index.ts';
import { kubectlBinary } from '../helpers/kubectl-binary.ts';

const real = createKubectlRunner({ binary: kubectlBinary() });

/** A kubectl that counts its runs (a fresh one has no shapes known yet). */
function counting() {
  const runs: string[][] = [];
  const kubectl: KubectlRunner = (args, opts) => (runs.push(args), real(args, opts));
  return { kubectl, runs };
}

const owner = (name: string, namespace = 'team-a'): Owner => ({ apiVersion: 'x.io/v1', kind: 'Thing', name, namespace, uid: `uid-${name}` });
const cr = <Spec,>(name: string, spec: Spec): CustomResource<Spec> => ({ apiVersion: 'x.io/v1', kind: 'Thing', metadata: { name, namespace: 'team-a', uid: `uid-${name}` }, spec });

/** What the shape says and what a real render of the same work dir names. */
async function both(kubectl: KubectlRunner, spec: KustomizeSpec, who: Owner, basesDir = DEFAULT_BASES_DIR) {
  const wd = await createWorkdir(spec, who, { basesDir });
  try {
    const env = { kubectl, basesDir };
    const shaped = await renderedIdentities(env, spec, who, wd.dir);
    const rendered = (await renderIn({ kubectl: real, basesDir }, wd.dir)).map(identityOf);
    return { shaped, rendered };
  } finally {
    await wd.cleanup();
  }
}

describe('rendered identities from the shape', () => {
  let bases: string;
  beforeAll(async () => {
    bases = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-identities-'));
    await fs.cp(DEFAULT_BASES_DIR, bases, { recursive: true });
  });
  afterAll(() => fs.rm(bases, { recursive: true, force: true }));

  it.each([
    ['a Sample', sample.kustomizations()[0]!.build(cr('web', { count: 3 })), owner('web')],
    ['a Gordon', gordon.kustomizations()[0]!.build(cr('gordon', { gordon: { replicas: 2 } })), owner('gordon', 'team-b')],
    ['a base with cluster-scoped objects and a Namespace, under a chosen prefix', { base: 'kustomate', namePrefix: 'x-' }, owner('installer')],
    ['a base with cluster-scoped objects, no prefix', { base: 'kustomate', namePrefix: '' }, owner('installer')],
    ['a retained spec', { base: 'sample', retain: true, patches: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'demo-deploy' }, spec: { replicas: 1 } }] }, owner('kept')],
  ] as Array<[string, KustomizeSpec, Owner]>)('names exactly what kubectl kustomize renders for %s', async (_, spec, who) => {
    const { kubectl } = counting();
    const { shaped, rendered } = await both(kubectl, spec, who);
    expect(rendered.length).toBeGreaterThan(0);
    expect(shaped).toEqual(rendered);
  });

  it('renders a shape once: other owners, namespaces and patches of it run no kubectl', async () => {
    const { kubectl, runs } = counting();
    const spec = (n: number) => sample.kustomizations()[0]!.build(cr(`s${n}`, { count: n }));
    for (let n = 1; n <= 4; n++) {
      const { shaped, rendered } = await both(kubectl, spec(n), owner(`s${n}`, `ns-${n}`));
      expect(shaped).toEqual(rendered);
    }
    expect(runs).toHaveLength(1);
  });

  it('renders again once the base changed, and names what the changed base renders', async () => {
    const { kubectl, runs } = counting();
    const spec: KustomizeSpec = { base: 'gordon' };
    expect((await both(kubectl, spec, owner('g'), bases)).shaped).toHaveLength(1);
    const file = path.join(bases, 'gordon', 'deployment.yaml');
    await fs.appendFile(file, '\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n');
    const { shaped, rendered } = await both(kubectl, spec, owner('g'), bases);
    expect(shaped).toEqual(rendered);
    expect(shaped).toContainEqual({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'team-a', name: 'g-extra' });
    expect(runs).toHaveLength(2);
  });

  it('does not guess where a patch renames: an annotation kustomize acts on, or an object of a generator in the base', async () => {
    const { kubectl, runs } = counting();
    // A patch that sets kustomize's hash-suffix annotation: the real render names web-demo-deploy-<hash>.
    const suffixed: KustomizeSpec = { base: 'sample', patches: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'demo-deploy', annotations: { 'internal.config.kubernetes.io/needsHashSuffix': 'enabled' } }, spec: { replicas: 3 } }] };
    const renamed = await both(kubectl, suffixed, owner('web'));
    expect(renamed.rendered.map((r) => r.name)).not.toContain('web-demo-deploy');
    expect(renamed.shaped).toBeUndefined();
    // A base with a generator, its ConfigMap patched: the hash suffix comes after the patch.
    await fs.mkdir(path.join(bases, 'generated'));
    await fs.writeFile(path.join(bases, 'generated', 'kustomization.yaml'), 'configMapGenerator:\n  - name: cfg\n    literals: [a=1]\n');
    const patched: KustomizeSpec = { base: 'generated', patches: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: '2' } }] };
    expect((await both(kubectl, patched, owner('web'), bases)).shaped).toBeUndefined();
    // A base with a remote resource: what it names is not in its files.
    await fs.mkdir(path.join(bases, 'remote'));
    await fs.writeFile(path.join(bases, 'remote', 'kustomization.yaml'), 'resources:\n  - https://example.com/owner/repo//deploy?ref=main\n');
    const wd = await createWorkdir({ base: 'remote' }, owner('web'), { basesDir: bases });
    try {
      expect(await renderedIdentities({ kubectl, basesDir: bases }, { base: 'remote' }, owner('web'), wd.dir)).toBeUndefined();
    } finally {
      await wd.cleanup();
    }
    expect(runs).toEqual([]);
  });

  it('does not guess for a base whose own names are those of the placeholder owner it renders shapes under', async () => {
    const { kubectl, runs } = counting();
    await fs.mkdir(path.join(bases, 'lookalike'));
    await fs.writeFile(path.join(bases, 'lookalike', 'kustomization.yaml'), 'resources: [objects.yaml]\n');
    await fs.writeFile(
      path.join(bases, 'lookalike', 'objects.yaml'),
      // kustomize gives a CustomResourceDefinition no name prefix: the placeholder's prefix here is the base's own.
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shape-namespace-of-kustomate\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: kustomate-shape-things.x.io\n',
    );
    for (const namePrefix of [undefined, '']) {
      const { shaped, rendered } = await both(kubectl, { base: 'lookalike', ...(namePrefix === undefined ? {} : { namePrefix }) }, owner('web'), bases);
      expect(rendered).toContainEqual(expect.objectContaining({ kind: 'CustomResourceDefinition', name: 'kustomate-shape-things.x.io' }));
      expect(shaped).toBeUndefined();
    }
    expect(runs).toEqual([]);
  });

  it('does not guess for a spec that may rename (JSON patches) or generate (files, extra kustomization fields)', async () => {
    const { kubectl, runs } = counting();
    const rename = { target: { kind: 'Deployment', name: 'demo-deploy' }, ops: [{ op: 'replace', path: '/metadata/name', value: 'other' }] };
    for (const spec of [
      { base: 'sample', jsonPatches: [rename] },
      { base: 'sample', kustomization: { nameSuffix: '-x' } },
      { base: 'sample', files: { 'a.txt': 'a' } },
    ] as KustomizeSpec[]) {
      expect((await both(kubectl, spec, owner('r'))).shaped).toBeUndefined();
    }
    expect(runs).toEqual([]);
  });
});
