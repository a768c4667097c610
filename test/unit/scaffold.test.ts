// kustomate new: bad arguments are refused with one line and exit code 2; the project's files are what they claim.
// (That the project installs, type-checks and passes its own npm test is test/e2e/scaffold.test.ts.)
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { pluralOf, projectNames } from '../../src/scaffold/names.ts';
import { operatorRules, restResource } from '../../src/scaffold/rbac.ts';
import { IMAGE } from '../../lab/image/podman.ts';
import { kubectlBinary } from '../helpers/kubectl-binary.ts';

const cli = (args: string[]) => execa(process.execPath, ['src/cli/main.ts', ...args], { reject: false, timeout: 60_000, env: { KUSTOMATE_KUBECTL: kubectlBinary() } });

describe('kustomate new', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-new-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

  it('refuses a kind that is not CamelCase, a group that is not a DNS name, and a bad name or version, in one line with exit code 2', async () => {
    const cases: Array<[string[], string]> = [
      [['web', '--group', 'example.com', '--kind', 'website'], '--kind "website" must be CamelCase'],
      [['web', '--group', 'example.com', '--kind', 'Web_Site'], '--kind "Web_Site" must be CamelCase'],
      [['web', '--group', 'example', '--kind', 'Website'], '--group "example" must be a DNS name with at least one dot'],
      [['web', '--group', 'Example.com', '--kind', 'Website'], '--group "Example.com" must be a DNS name'],
      [['web', '--group', 'a..b', '--kind', 'Website'], '--group "a..b" must be a DNS name'],
      [['web', '--group', 'apps.k8s.io', '--kind', 'Website'], 'is reserved for Kubernetes'],
      [['Web', '--group', 'example.com', '--kind', 'Website'], 'NAME "Web" must be a lower-case DNS label'],
      [['web', '--group', 'example.com', '--kind', 'Website', '--version', '1'], '--version "1" must be a Kubernetes API version'],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['new', ...args, '--dir', path.join(tmp, 'never'), '--no-install']);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toContain(message);
    }
    await expect(fs.stat(path.join(tmp, 'never'))).rejects.toThrow(/ENOENT/);
    const missing = await cli(['new', 'web', '--kind', 'Website', '--dir', path.join(tmp, 'never'), '--no-install']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("required option '--group <group>' not specified");
  });

  it('refuses a DIR that exists and is not empty, and writes into it with --force, keeping other files', async () => {
    const dir = path.join(tmp, 'taken');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'notes.txt'), 'mine');
    const refused = await cli(['new', 'web', '--group', 'example.com', '--kind', 'Website', '--dir', dir, '--no-install', '--kustomate', '^0.1.0']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('exists and is not empty; choose another --dir, or pass --force');
    expect(await fs.readdir(dir)).toEqual(['notes.txt']);
    const forced = await cli(['new', 'web', '--group', 'example.com', '--kind', 'Website', '--dir', dir, '--no-install', '--kustomate', '^0.1.0', '--force']);
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(await fs.readFile(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    expect(JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8')).dependencies).toEqual({ kustomate: '^0.1.0' });
  });

  it('writes a CRD with a schema and printer columns, a base, an example, and install RBAC for exactly the kinds the base renders', async () => {
    const dir = path.join(tmp, 'shop');
    const r = await cli(['new', 'shop-operator', '--group', 'shop.example.com', '--kind', 'Store', '--version', 'v1beta1', '--dir', dir, '--no-install', '--kustomate', '^0.1.0']);
    expect(r.exitCode, r.stderr).toBe(0);
    const yaml = async (file: string) => parseAllDocuments(await fs.readFile(path.join(dir, file), 'utf8')).map((d) => d.toJS());
    const [crd] = await yaml('crds/stores.shop.example.com.yaml');
    expect(crd.spec).toMatchObject({ group: 'shop.example.com', scope: 'Namespaced', names: { kind: 'Store', plural: 'stores', singular: 'store' } });
    const version = crd.spec.versions[0];
    expect(version).toMatchObject({ name: 'v1beta1', served: true, storage: true, subresources: { status: {} } });
    expect(version.additionalPrinterColumns.map((c: { name: string }) => c.name)).toEqual(['Replicas', 'Ready', 'Message', 'Age']);
    expect(version.schema.openAPIV3Schema.properties.spec.properties.replicas).toMatchObject({ type: 'integer', minimum: 0, maximum: 100 });
    expect(version.schema.openAPIV3Schema.description).toContain('A Store');

    const [example] = await yaml('examples/store.yaml');
    expect(example).toEqual({ apiVersion: 'shop.example.com/v1beta1', kind: 'Store', metadata: { name: 'example' }, spec: { replicas: 1, message: 'hello from Store example' } });
    expect(await yaml('test/golden/store.in.yaml')).toEqual([example]);

    const base = [...(await yaml('kustomize/shop-operator/configmap.yaml')), ...(await yaml('kustomize/shop-operator/deployment.yaml'))];
    expect(base.map((o) => o.kind)).toEqual(['ConfigMap', 'Deployment']);
    const rbac = await yaml('deploy/rbac.yaml');
    const role = rbac.find((o) => o.kind === 'ClusterRole');
    expect(role.rules).toEqual(operatorRules({ group: 'shop.example.com', version: 'v1beta1', plural: 'stores', kind: 'Store' }, base));
    const childRules = role.rules.filter((rule: { verbs: string[] }) => rule.verbs.includes('delete'));
    expect(childRules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
    ]);
    expect(JSON.stringify(role.rules)).not.toContain('secrets');
    // Whether a namespace is being deleted, and nothing more of namespaces.
    expect(role.rules.filter((rule: { resources: string[] }) => rule.resources.includes('namespaces'))).toEqual([{ apiGroups: [''], resources: ['namespaces'], verbs: ['get'] }]);
    expect(rbac.find((o) => o.kind === 'ClusterRoleBinding').subjects).toEqual([{ kind: 'ServiceAccount', name: 'shop-operator', namespace: 'shop-operator-system' }]);
    const [deployment] = await yaml('deploy/deployment.yaml');
    expect(deployment.spec.template.spec.serviceAccountName).toBe('shop-operator');
    expect(deployment.spec.template.spec.containers[0].args).toContain('./src/operator.ts');
    expect(parse(await fs.readFile(path.join(dir, 'deploy/kustomization.yaml'), 'utf8')).namespace).toBe('shop-operator-system');

    const source = await fs.readFile(path.join(dir, 'src/operator.ts'), 'utf8');
    expect(source).toContain("export const operator = new Operator<StoreSpec>({");
    expect(source).toContain("resource: { group: 'shop.example.com', version: 'v1beta1', plural: 'stores', kind: 'Store' }");
    expect(source).toContain(".kustomize('shop_operator',");
  });

  it("writes a Dockerfile whose kustomate image defaults to the one this kustomate's npm run image builds, and a README that names it", async () => {
    const dir = path.join(tmp, 'image');
    const r = await cli(['new', 'web', '--group', 'example.com', '--kind', 'Website', '--dir', dir, '--no-install', '--kustomate', '^0.1.0']);
    expect(r.exitCode, r.stderr).toBe(0);
    const dockerfile = await fs.readFile(path.join(dir, 'Dockerfile'), 'utf8');
    const defaults = [...dockerfile.matchAll(/^ARG KUSTOMATE_IMAGE=(.*)$/gm)].map((m) => m[1]);
    expect(defaults).toEqual([IMAGE]);
    expect(dockerfile).toMatch(/^FROM \$\{KUSTOMATE_IMAGE\} AS kustomate$/m);
    const readme = await fs.readFile(path.join(dir, 'README.md'), 'utf8');
    expect(readme).toContain(`kubectl from kustomate's image, \`${IMAGE}\` by default`);
    expect(readme).toContain(`docker build -t ${IMAGE} .`);
    expect(`${dockerfile}${readme}`).not.toContain('kustomate:latest');
  });
});

describe('project names', () => {
  it('pluralizes kinds as kubebuilder does, and maps kinds to their REST resources', () => {
    expect(['Website', 'Policy', 'Class', 'Box', 'Key', 'MySQL'].map(pluralOf)).toEqual(['websites', 'policies', 'classes', 'boxes', 'keys', 'mysqls']);
    expect(restResource('apps/v1', 'Deployment')).toEqual({ group: 'apps', resource: 'deployments' });
    expect(restResource('networking.k8s.io/v1', 'Ingress')).toEqual({ group: 'networking.k8s.io', resource: 'ingresses' });
    expect(restResource('v1', 'PersistentVolumeClaim')).toEqual({ group: '', resource: 'persistentvolumeclaims' });
  });

  it('derives the step id, namespace and CRD name from the input', () => {
    expect(projectNames({ name: 'my-op', group: 'a.example.com', kind: 'Widget' })).toMatchObject({
      stepId: 'my_op',
      namespace: 'my-op-system',
      crdName: 'widgets.a.example.com',
      version: 'v1',
      specType: 'WidgetSpec',
    });
  });
});
