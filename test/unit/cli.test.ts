import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { kubectlBinary } from '../helpers/kubectl-binary.ts';

const cli = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, ['src/cli/main.ts', ...args], { reject: false, timeout: 60_000, env: { KUSTOMATE_KUBECTL: kubectlBinary(), HOME: '/nonexistent', KUBECONFIG: '', ...env }, extendEnv: true });

describe('kustomate command line', () => {
  let dir: string;
  const file = async (name: string, text: string) => {
    const p = path.join(dir, name);
    await fs.writeFile(p, text);
    return p;
  };
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-cli-'));
  });
  afterAll(async () => fs.rm(dir, { recursive: true, force: true }));

  it('lists its commands and every run flag in --help', async () => {
    const top = await cli(['--help']);
    expect(top.stdout).toMatch(/run \[options\] \[operator\.\.\.\]/);
    expect(top.stdout).toMatch(/render \[options\]/);
    const run = await cli(['run', '--help']);
    for (const flag of ['--namespace', '--all-namespaces', '--concurrency', '--kubeconfig', '--context', '--kubectl', '--bases', '--keep-workdirs', '--leader-election', '--health-port', '--log-format', '--grace-period', '--relist-interval', '--database-url']) {
      expect(run.stdout).toContain(flag);
    }
    expect(run.stdout.replace(/\s+/g, ' ')).toContain('known: sample, database, gordon, mysql, databasetable');
  });

  it('render writes the work dir into --out and prints what kubectl kustomize renders', async () => {
    const out = path.join(dir, 'out');
    const r = await cli(['render', '-f', 'lab/demo-obj.yaml', '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const [deploy] = parseAllDocuments(r.stdout).map((d) => d.toJS());
    expect(deploy).toMatchObject({ kind: 'Deployment', metadata: { name: 'obj-demo-deploy', namespace: 'demo' }, spec: { replicas: 2 } });
    expect(r.stderr).toContain(`work dir: ${out}`);
    expect((await fs.readdir(path.join(out, 'instance'))).sort()).toEqual(['base', 'kustomization.yaml', 'patch.yaml']);
    const again = await cli(['render', '-f', 'lab/demo-obj.yaml', '--out', out]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('is not empty');
  });

  it('render takes the operator from a module with --operator, and uses the bases it names', async () => {
    const cr = await file('site.yaml', stringify({ apiVersion: 'example.kustomate.io/v1', kind: 'Website', metadata: { name: 'home', namespace: 'web' }, spec: { replicas: 3, message: 'hi' } }));
    const r = await cli(['render', '-f', cr, '--operator', 'examples/website/operator.ts']);
    expect(r.exitCode, r.stderr).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
    expect(docs.find((d) => d.kind === 'Deployment')).toMatchObject({ metadata: { name: 'home-web', namespace: 'web' }, spec: { replicas: 3 } });
    expect(docs.find((d) => d.kind === 'ConfigMap')).toMatchObject({ data: { message: 'hi' } });
    const builtIn = await cli(['render', '-f', cr]);
    expect(builtIn.exitCode).toBe(2);
    expect(builtIn.stderr).toContain('no operator handles Website');
  });

  it('render explains a bad file with exit code 2 and no stack trace', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['render', '-f', path.join(dir, 'missing.yaml')], /cannot read .*missing\.yaml: ENOENT/],
      [['render', '-f', await file('broken.yaml', 'kind: [unclosed')], /is not valid YAML/],
      [['render', '-f', await file('two.yaml', stringify({ a: 1 }) + '---\n' + stringify({ b: 2 }))], /exactly one custom resource, found 2/],
      [['render', '-f', await file('nokind.yaml', stringify({ metadata: { name: 'x' } }))], /no apiVersion and kind/],
      [['render', '-f', await file('unknown.yaml', stringify({ apiVersion: 'x.io/v1', kind: 'Thing', metadata: { name: 'x' } }))], /no operator handles Thing x\.io\/v1 \(known: Sample/],
      [['render', '-f', await file('bad.yaml', stringify({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: 'x' }, spec: { count: -1 } }))], /spec\.count must be a whole number ≥ 0, got -1/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('run refuses an unknown operator, conflicting namespace flags and a missing kubeconfig', async () => {
    expect((await cli(['run', 'nope'])).stderr).toContain('unknown operator "nope" (known: sample, database, gordon, mysql, databasetable; or a module path');
    const missing = await cli(['run', './no-such-operator.ts']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/cannot load operator module \.\/no-such-operator\.ts: no such file/);
    const empty = await cli(['run', await file('empty.mjs', 'export const x = 1;\n')]);
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain('exports no Operator');
    expect((await cli(['run', '-A', '-n', 'x'])).stderr).toContain('--all-namespaces and --namespace exclude each other');
    const none = await cli(['run']);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('no kubeconfig found');
    expect((await cli(['run', '--concurrency', '0'])).stderr).toContain('must be a whole number ≥ 1');
    const badUrl = await cli(['run'], { DATABASE_URL: 'mysql://root:secretpw@db/x' });
    expect(badUrl.exitCode).toBe(2);
    expect(badUrl.stderr).toContain('--database-url (or DATABASE_URL) must start with postgresql://');
    expect(badUrl.stderr).not.toContain('secretpw');
  });

  it('run says which cluster it cannot reach, with exit code 1', async () => {
    const kc = await file(
      'kubeconfig',
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const r = await cli(['run', '--kubeconfig', kc]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the cluster at https:\/\/127\.0\.0\.1:1/);
  });
});
