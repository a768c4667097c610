// kustomate new, end to end: a project written into a temporary folder, with kustomate from an `npm pack` tarball of
// this checkout, passes its own `npm ci && npm test` on the local control plane; its operator, as its own
// least-privilege ServiceAccount, makes its example Ready=True; `kustomate diff` shows a change before it is applied;
// and its `kustomate bundle` passes the format rules and OLM's real schema.
import { execa, type ResultPromise } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { createNamespace, deleteNamespace, getJson, k, KUBECTL, kubeconfig, readyCondition, tokenKubeconfig, waitFor } from './helpers.ts';
import { applyBundle, installOlmCrds, uninstallOlmCrds } from './olm.ts';

const NAME = 'greeter';
const GROUP = 'e2e.kustomate.io';
const CRD = `greetings.${GROUP}`;
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

describe('a project from kustomate new', () => {
  let tmp: string;
  let project: string;
  let ns: string;
  let operator: ResultPromise | undefined;
  let operatorLog = '';
  const timings: string[] = [];

  /** A command in the project folder, as its user runs it: the cluster from KUBECONFIG, the local control plane's kubectl. */
  const inProject = (command: string, args: string[], timeoutMs = 600_000) =>
    execa(command, args, { cwd: project, reject: false, all: true, timeout: timeoutMs, env: { KUBECONFIG: kubeconfig(), KUSTOMATE_KUBECTL: KUBECTL } });
  const timed = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await run();
    } finally {
      timings.push(`${what}: ${seconds(t0)}`);
    }
  };

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-new-'));
    project = path.join(tmp, NAME);
    // npm pack runs `prepare`, so the tarball holds a dist/ built from this checkout's src/.
    const packed = await timed('npm pack of this checkout', () => execa('npm', ['pack', '--json', '--pack-destination', tmp], { timeout: 300_000 }));
    const tarball = path.join(tmp, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
    const created = await timed('kustomate new (with npm install and the golden files)', () =>
      execa(process.execPath, ['src/cli/main.ts', 'new', NAME, '--group', GROUP, '--kind', 'Greeting', '--dir', project, '--kustomate', tarball], {
        reject: false,
        all: true,
        timeout: 900_000,
        env: { KUSTOMATE_KUBECTL: KUBECTL },
      }),
    );
    expect(created.exitCode, created.all).toBe(0);
    ns = await createNamespace('e2e-new');
  });

  afterAll(async () => {
    // While the operator still runs: it removes the Greetings' finalizers.
    if (ns) await deleteNamespace(ns);
    operator?.kill('SIGTERM');
    await operator;
    await k(['delete', 'namespace', `${NAME}-system`, '--ignore-not-found', '--wait=false'], { reject: false });
    await k(['delete', 'clusterrole,clusterrolebinding', NAME, '--ignore-not-found'], { reject: false });
    await k(['delete', 'crd', CRD, '--ignore-not-found'], { reject: false });
    await uninstallOlmCrds();
    await fs.rm(tmp, { recursive: true, force: true });
    process.stderr.write(`[scaffold] ${timings.join('; ')}\n`);
  });

  it('installs with npm ci and passes its own npm test: type-check, unit, golden and end-to-end on this control plane', async () => {
    expect(JSON.parse(await fs.readFile(path.join(project, 'package.json'), 'utf8')).dependencies.kustomate).toMatch(/^file:vendor\/kustomate-.*\.tgz$/);
    expect(await fs.readFile(path.join(project, 'test/golden/greeting.out.yaml'), 'utf8')).toContain('name: example-web');
    const ci = await timed('npm ci in the project', () => inProject('npm', ['ci', '--no-audit', '--no-fund']));
    expect(ci.exitCode, ci.all).toBe(0);
    const test = await timed('npm test in the project', () => inProject('npm', ['test']));
    expect(test.exitCode, test.all).toBe(0);
    // node --test's summary: every test ran and passed, none was skipped.
    const count = (what: string) => Number(new RegExp(`^ℹ ${what} (\\d+)$`, 'm').exec(test.all)?.[1]);
    expect(count('tests')).toBe(6);
    expect(count('pass')).toBe(6);
    expect(count('skipped') + count('todo') + count('cancelled')).toBe(0);
    // Its end-to-end test cleaned up after itself.
    const left = await getJson<{ items: Array<{ metadata: { name: string } }> }>(['namespaces']);
    expect(left!.items.map((n) => n.metadata.name).filter((n) => n.startsWith(`e2e-${NAME}-`))).toEqual([]);
  });

  it("reconciles its example to Ready=True as its own ServiceAccount, with only the install base's RBAC", async () => {
    await k(['apply', '--server-side', '-f', path.join(project, 'crds')]);
    await k(['wait', '--for=condition=Established', `crd/${CRD}`, '--timeout=60s']);
    // The install base without its Deployment (the image is not built here): namespace, ServiceAccount, RBAC.
    const install = parseAllDocuments((await k(['kustomize', path.join(project, 'deploy')])).stdout).map((d) => d.toJS());
    await k(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: install.filter((o) => o.kind !== 'Deployment') }) });
    const token = (await k(['create', 'token', NAME, '-n', `${NAME}-system`, '--duration', '1h'])).stdout.trim();
    const file = await tokenKubeconfig(token, tmp, NAME);
    operator = execa(path.join(project, 'node_modules/.bin/kustomate'), ['run', '--kubeconfig', file, '--namespace', ns, '--health-port', '0', './src/operator.ts'], {
      cwd: project,
      reject: false,
      all: true,
      timeout: 30 * 60_000,
      env: { PATH: `${path.join(project, 'node_modules/.bin')}:${process.env.PATH}`, KUSTOMATE_KUBECTL: KUBECTL, KUSTOMATE_LOG_LEVEL: 'debug' },
    });
    operator.all?.on('data', (chunk: Buffer) => (operatorLog += chunk.toString()));
    await k(['apply', '-n', ns, '-f', path.join(project, 'examples/greeting.yaml')]);
    const greeting = await waitFor('the example Greeting Ready=True', async () => {
      const g = await getJson(['greeting', 'example', '-n', ns]);
      return readyCondition(g)?.status === 'True' && g;
    }, 120_000).catch((err: Error) => {
      throw new Error(`${err.message}\noperator log:\n${operatorLog.slice(-4000)}`);
    });
    expect(greeting.status.greeter.message).toBe('configmap/example-content serverside-applied\ndeployment.apps/example-web serverside-applied');
    expect((await getJson(['deployment', 'example-web', '-n', ns])).spec.replicas).toBe(1);
    expect((await getJson(['configmap', 'example-content', '-n', ns])).data.message).toBe('hello from Greeting example');
  });

  it('kustomate diff shows what a changed Greeting would change (exit 1), changes nothing, and shows nothing for the applied one (exit 0)', async () => {
    const example = parse(await fs.readFile(path.join(project, 'examples/greeting.yaml'), 'utf8'));
    const applied = path.join(tmp, 'applied.yaml');
    const changed = path.join(tmp, 'changed.yaml');
    await fs.writeFile(applied, stringify({ ...example, metadata: { ...example.metadata, namespace: ns } }));
    await fs.writeFile(changed, stringify({ ...example, metadata: { ...example.metadata, namespace: ns }, spec: { replicas: 3, message: 'changed' } }));

    const diff = await timed('kustomate diff', () => inProject('npm', ['run', '--silent', 'diff', '--', '-f', changed], 120_000));
    expect(diff.exitCode, diff.all).toBe(1);
    expect(diff.stdout).toMatch(/^-\s+replicas: 1$/m);
    expect(diff.stdout).toMatch(/^\+\s+replicas: 3$/m);
    expect(diff.stdout).toMatch(/^-\s+message: hello from Greeting example$/m);
    expect(diff.stdout).toMatch(/^\+\s+message: changed$/m);
    // Only the two changed fields (and the Deployment's generation): ownerReferences, labels and the fields of other
    // managers are the same as live.
    const changes = diff.stdout.split('\n').filter((l) => /^[-+]\s/.test(l) && !/^[-+]\s+generation: \d+$/.test(l));
    expect(changes).toHaveLength(4);
    expect((await getJson(['deployment', 'example-web', '-n', ns])).spec.replicas).toBe(1);

    const same = await inProject('npm', ['run', '--silent', 'diff', '--', '-f', applied], 120_000);
    expect(same.exitCode, same.all).toBe(0);
    expect(same.stdout).toBe('');

    const invalid = path.join(tmp, 'invalid.yaml');
    await fs.writeFile(invalid, stringify({ ...example, spec: { replicas: -1 } }));
    const bad = await inProject('npm', ['run', '--silent', 'diff', '--', '-f', invalid], 120_000);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('spec.replicas must be a whole number from 0 to 100, got -1');
  });

  it('kustomate bundle of the project passes the bundle format rules and OLM\'s real schema', async () => {
    const bundle = await timed('kustomate bundle', () => inProject('npm', ['run', '--silent', 'bundle', '--', '--version', '0.1.0', '--channel', 'alpha'], 120_000));
    expect(bundle.exitCode, bundle.all).toBe(0);
    expect(bundle.stdout).toContain('bundle checks passed');
    await installOlmCrds();
    const csv = await applyBundle(path.join(project, 'bundle'), ns);
    expect(csv.metadata.name).toBe(`${NAME}.v0.1.0`);
    expect(csv.spec.customresourcedefinitions.owned).toMatchObject([{ name: CRD, version: 'v1', kind: 'Greeting', description: expect.stringContaining('A Greeting') }]);
    // As written (the API server adds defaults to what it stores): the install base's Deployment, and the example.
    const written = parse(await fs.readFile(path.join(project, 'bundle/manifests/greeter.clusterserviceversion.yaml'), 'utf8'));
    const deployed = parse(await fs.readFile(path.join(project, 'deploy/deployment.yaml'), 'utf8'));
    expect(written.spec.install.spec.deployments).toEqual([{ name: NAME, label: deployed.metadata.labels, spec: deployed.spec }]);
    expect(JSON.parse(written.metadata.annotations['alm-examples'])).toEqual([parse(await fs.readFile(path.join(project, 'examples/greeting.yaml'), 'utf8'))]);
  });
});
