// The OLM bundle format rules, checked in code: a bundle kustomate writes passes them, and breaking any rule is caught.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { bundleProblems, coverageProblems, readBundle, type BundleFiles } from '../../src/bundle/check.ts';
import type { KubeObject } from '../../src/kube/api.ts';
import { kubectlBinary } from '../helpers/kubectl-binary.ts';

const cli = (args: string[]) => execa(process.execPath, ['src/cli/main.ts', ...args], { reject: false, timeout: 60_000, env: { KUSTOMATE_KUBECTL: kubectlBinary() } });

describe('kustomate bundle of the built-in operators', () => {
  let dir: string;
  let files: BundleFiles;
  let install: KubeObject[];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-bundle-'));
    const r = await cli(['bundle', '--version', '0.1.0', '--channel', 'alpha,stable', '--out', dir]);
    expect(r.exitCode, r.stderr).toBe(0);
    files = (await readBundle(dir)).files;
    const rendered = await execa(kubectlBinary(), ['kustomize', 'kustomize/kustomate'], { timeout: 60_000 });
    install = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as KubeObject);
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  const csvOf = (f: BundleFiles) => f.manifests.find((m) => m.obj.kind === 'ClusterServiceVersion')!.obj;
  /** A deep copy of the bundle, changed by `edit`. */
  const broken = (edit: (f: BundleFiles, csv: Record<string, any>) => void): BundleFiles => {
    const copy = structuredClone(files);
    edit(copy, csvOf(copy));
    return copy;
  };

  it('writes one CSV, a file per CRD, the unbound ClusterRole, annotations and a bundle.Dockerfile, and passes every rule', async () => {
    expect(files.manifests.map((m) => `${m.obj.kind} ${m.obj.metadata.name}`).sort()).toEqual([
      'ClusterRole kustomate-secret-reader',
      'ClusterServiceVersion kustomate.v0.1.0',
      'CustomResourceDefinition databases.zalando.org',
      'CustomResourceDefinition databasetables.kopf.demo',
      'CustomResourceDefinition gordons.operator.prgcont.cz',
      'CustomResourceDefinition mysqls.otus.homework',
      'CustomResourceDefinition samples.nuvolaris.org',
    ]);
    expect(files.annotations).toMatchObject({
      'operators.operatorframework.io.bundle.mediatype.v1': 'registry+v1',
      'operators.operatorframework.io.bundle.package.v1': 'kustomate',
      'operators.operatorframework.io.bundle.channels.v1': 'alpha,stable',
      'operators.operatorframework.io.bundle.channel.default.v1': 'alpha',
    });
    expect(bundleProblems(files, install)).toEqual([]);
  });

  it('puts the install Deployment, its RBAC and the seed examples in the CSV, with a description for every owned CRD', () => {
    const csv = csvOf(files);
    const strategy = csv.spec.install.spec;
    const deployment = install.find((o) => o.kind === 'Deployment') as any;
    expect(strategy.deployments).toEqual([{ name: 'kustomate', label: deployment.metadata.labels, spec: deployment.spec }]);
    const clusterRole = install.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'kustomate') as any;
    expect(strategy.clusterPermissions).toEqual([{ serviceAccountName: 'kustomate', rules: clusterRole.rules }]);
    expect(strategy.permissions).toEqual([{ serviceAccountName: 'kustomate', rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }] }]);
    const examples = JSON.parse(csv.metadata.annotations['alm-examples']) as KubeObject[];
    expect(examples.map((e) => `${e.kind} ${e.metadata.name}`).sort()).toEqual(['Database mongo-db', 'DatabaseTable website-users', 'Gordon gordoncluster', 'MySQL mysql-instance', 'Sample obj']);
    for (const owned of csv.spec.customresourcedefinitions.owned) expect(owned.description.length, owned.name).toBeGreaterThan(20);
    expect(csv.spec.customresourcedefinitions.owned.find((o: any) => o.kind === 'Gordon').specDescriptors).toEqual([
      { path: 'gordon.replicas', displayName: 'Gordon Replicas', description: "How many gordon pods to keep running (at most 100, the example operators' limit)." },
    ]);
  });

  const cases: Array<[string, (f: BundleFiles, csv: Record<string, any>) => void, RegExp]> = [
    ['a second CSV', (f) => f.manifests.push(structuredClone(f.manifests.find((m) => m.obj.kind === 'ClusterServiceVersion')!)), /exactly one ClusterServiceVersion, found 2/],
    ['a missing CRD', (f) => (f.manifests = f.manifests.filter((m) => m.obj.metadata.name !== 'gordons.operator.prgcont.cz')), /owned CRD gordons.operator.prgcont.cz is not in manifests/],
    ['an unlisted CRD version', (_, csv) => (csv.spec.customresourcedefinitions.owned = csv.spec.customresourcedefinitions.owned.filter((o: any) => o.kind !== 'Sample')), /owned CRDs lack samples.nuvolaris.org version v1/],
    ['a listed version the CRD does not serve', (_, csv) => (csv.spec.customresourcedefinitions.owned[0].version = 'v2'), /does not match the CRD's served versions/],
    ['an owned CRD without a description', (_, csv) => (csv.spec.customresourcedefinitions.owned[0].description = ''), /needs a displayName and a description/],
    ['no mediatype', (f) => delete f.annotations!['operators.operatorframework.io.bundle.mediatype.v1'], /mediatype.v1 must be registry\+v1/],
    ['no package', (f) => delete f.annotations!['operators.operatorframework.io.bundle.package.v1'], /package.v1 must name the package/],
    ['no channels', (f) => delete f.annotations!['operators.operatorframework.io.bundle.channels.v1'], /channels.v1 must list one or more channels/],
    ['a default channel that is not a channel', (f) => (f.annotations!['operators.operatorframework.io.bundle.channel.default.v1'] = 'beta'), /default channel "beta" is not one of the channels/],
    ['a Dockerfile labelled otherwise', (f) => (f.dockerfile = f.dockerfile!.replace('package.v1=kustomate', 'package.v1=other')), /LABELs differ from annotations.yaml/],
    ['a version that is not semver', (_, csv) => (csv.spec.version = '1.0'), /spec.version must be a semantic version/],
    ['a name that is not <package>.v<version>', (_, csv) => (csv.metadata.name = 'kustomate-0.1.0'), /metadata.name must be <package>.v<spec.version>/],
    ['a kind OLM does not install', (f) => f.manifests.push({ file: 'manifests/ns.yaml', obj: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } } }), /OLM does not install a Namespace/],
    ['an example of a kind it does not own', (_, csv) => (csv.metadata.annotations['alm-examples'] = JSON.stringify([{ apiVersion: 'x.io/v1', kind: 'Thing', metadata: { name: 'x' } }])), /alm-examples holds a Thing x.io\/v1/],
    ['no example of an owned kind', (_, csv) => (csv.metadata.annotations['alm-examples'] = '[]'), /alm-examples has no example Sample/],
    ['a deployment without an image', (_, csv) => delete csv.spec.install.spec.deployments[0].spec.template.spec.containers[0].image, /a container without a name or an image/],
    ['a selector that misses its pods', (_, csv) => (csv.spec.install.spec.deployments[0].spec.selector.matchLabels = { app: 'other' }), /selector does not select its pod template/],
    ['a deployment that is not the install base\'s', (_, csv) => (csv.spec.install.spec.deployments[0].spec.replicas = 5), /deployment kustomate's spec differs from the install base's/],
    ['a permission the install base does not grant', (_, csv) => csv.spec.install.spec.clusterPermissions[0].rules.push({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }), /clusterPermissions of kustomate grant more than the install base: \|secrets\|\*\|get/],
    ['a permission missing', (_, csv) => (csv.spec.install.spec.permissions = []), /permissions of kustomate lack what the install base grants: coordination.k8s.io\|leases/],
    ['a service account no permission names', (_, csv) => (csv.spec.install.spec.deployments[0].spec.template.spec.serviceAccountName = 'nobody'), /runs as nobody, which no permissions entry names/],
  ];
  it.each(cases)('catches %s', (_, edit, message) => {
    const problems = bundleProblems(broken(edit), install);
    expect(problems.join('\n')).toMatch(message);
  });

  it('catches install RBAC that does not cover a kind the examples render', () => {
    const csv = csvOf(files);
    const children = [{ apiVersion: 'apps/v1', kind: 'Deployment' }, { apiVersion: 'v1', kind: 'ConfigMap' }];
    expect(coverageProblems(children, csv.spec.install.spec.clusterPermissions)).toEqual([
      'RBAC: the examples render ConfigMap (core/configmaps), but the install base does not grant get, list, watch, create, patch, delete on it',
    ]);
  });

  it('refuses a version that is not semver, or a bad channel, with exit code 2', async () => {
    const version = await cli(['bundle', '--version', 'v1', '--out', path.join(dir, 'x')]);
    expect(version.exitCode).toBe(2);
    expect(version.stderr).toContain('--version "v1" must be a semantic version');
    const channel = await cli(['bundle', '--version', '1.0.0', '--channel', 'Fast Lane', '--out', path.join(dir, 'x')]);
    expect(channel.exitCode).toBe(2);
    expect(channel.stderr).toContain('--channel "Fast Lane" must be one or more channel names');
  });
});
