// The package and the image as a new user gets them: a clean clone of this checkout, `npm ci`, the README's
// command line, `npm pack` installed globally, and `npm run image`; the image then runs under podman against the
// local control plane as the install base's pod would: its ServiceAccount's in-cluster configuration, its security
// context. What is checked is what the kernel and the cluster say (/proc, podman, objects), not log lines.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CACHE_DIR, KUBE_VERSION } from '../../lab/cluster/versions.ts';
import { IMAGE, PODMAN_RUN, podman } from '../../lab/image/podman.ts';
import { deployedTemplate, freePort, startContainer, withHealthPort, type Container, type ContainerOptions, type PodTemplate } from '../../lab/image/run.ts';
import { whyPodmanCannotRun } from '../../lab/image/tools.ts';
import { applyObjects, cleanNamespace, createNamespace, getJson, k, KUBECTL, kubeconfig, readyCondition, waitFor } from './helpers.ts';

const version = JSON.parse(await fs.readFile('package.json', 'utf8')).version as string;
// podman and its companions are installed here when missing (Debian, as root), as `npm run image` would.
const cannotRun = await whyPodmanCannotRun();
if (cannotRun) console.warn(`\n*** the container image tests are SKIPPED: ${cannotRun}\n`);

/** PATH without any node_modules/.bin: what a new shell has, before the README's export line. */
const plainPath = (process.env.PATH ?? '').split(path.delimiter).filter((d) => !d.includes('node_modules')).join(path.delimiter);
/** The project's Node 24 first on PATH. */
const node24Path = [path.dirname(process.execPath), plainPath].join(path.delimiter);

let work: string;
let clone: string;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-image-'));
  clone = path.join(work, 'kustomate');
  // Committed files only, as a fresh clone has them.
  await execa('git', ['clone', '--quiet', '--no-hardlinks', process.cwd(), clone], { timeout: 120_000 });
  await execa('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: clone, env: { PATH: node24Path }, timeout: 300_000 });
}, 420_000);

afterAll(async () => {
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe('the kustomate command, from a clean clone after npm ci', () => {
  it("works as the README's command-line section says: the PATH line, then kustomate and npx kustomate", async () => {
    const readme = await fs.readFile(path.join(clone, 'README.md'), 'utf8');
    const section = readme.split('\n## The command line\n')[1]?.split('\n## ')[0] ?? '';
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block, 'a sh block in "The command line"').toBeTruthy();
    expect(block).toContain('kustomate --help');
    // The block as written, line by line, in a shell that has no kustomate nor Node 24 on its PATH yet.
    const r = await execa('bash', ['-e', '-c', block!], { cwd: clone, env: { PATH: plainPath }, reject: false, all: true, timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);
    // Each kustomate line printed the command's usage.
    const runs = block!.split('\n').filter((l) => /^(npx )?kustomate /.test(l)).length;
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(r.stdout.split('Usage: kustomate [options] [command]').length - 1).toBe(runs);
  });

  it('installs globally from the npm pack tarball and runs on Node 24: help, and a render from the packed bases', async () => {
    const packed = JSON.parse((await execa('npm', ['pack', '--json', '--pack-destination', work], { cwd: clone, env: { PATH: node24Path }, timeout: 180_000 })).stdout)[0];
    const files = (packed.files as Array<{ path: string }>).map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['dist/cli/main.js', 'dist/index.js', 'kustomize/sample/kustomization.yaml', 'kustomize/kustomate/kustomization.yaml', 'crds/samples.nuvolaris.org.yaml', 'package.json', 'README.md']));
    expect(files.filter((f) => /^(src|test|lab|scripts|bench|node_modules|\.cache)\//.test(f))).toEqual([]);

    const prefix = path.join(work, 'global');
    await execa('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', path.join(work, packed.filename)], { env: { PATH: node24Path }, timeout: 300_000 });
    const env = { PATH: [path.join(prefix, 'bin'), node24Path].join(path.delimiter), KUSTOMATE_KUBECTL: KUBECTL };
    const help = await execa('kustomate', ['--help'], { env, cwd: work, timeout: 60_000 });
    expect(help.stdout).toContain('Usage: kustomate [options] [command]');
    const out = path.join(work, 'render');
    const render = await execa('kustomate', ['render', '-f', path.join(clone, 'lab', 'demo-obj.yaml'), '--out', out], { env, cwd: work, timeout: 60_000 });
    const docs = parseAllDocuments(render.stdout).map((d) => d.toJS());
    expect(docs).toEqual([expect.objectContaining({ kind: 'Deployment', metadata: expect.objectContaining({ name: 'obj-demo-deploy', namespace: 'demo' }), spec: expect.objectContaining({ replicas: 2 }) })]);
    // The global copy's bases, not the clone's.
    expect((await fs.readdir(path.join(prefix, 'lib', 'node_modules', 'kustomate', 'kustomize'))).sort()).toEqual((await fs.readdir(path.join(clone, 'kustomize'))).sort());
  });
});

/** The processes in the PID namespace of host pid `pid1` (a container's), with what /proc says of each. */
async function containerProcesses(pid1: number) {
  const ns = await fs.readlink(`/proc/${pid1}/ns/pid`);
  const found: Array<{ pid: number; nsPid: number; ppid: number; uid: number; state: string; comm: string; cmdline: string; status: Record<string, string> }> = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if ((await fs.readlink(`/proc/${entry}/ns/pid`)) !== ns) continue;
      const status = Object.fromEntries(
        (await fs.readFile(`/proc/${entry}/status`, 'utf8')).split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
      );
      found.push({
        pid: Number(entry),
        nsPid: Number(String(status.NSpid).split(/\s+/).at(-1)),
        ppid: Number(status.PPid),
        uid: Number(String(status.Uid).split(/\s+/)[0]),
        state: String(status.State).slice(0, 1),
        comm: String(status.Name),
        cmdline: (await fs.readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ').trim(),
        status,
      });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Mount point → options of a process's mounts, as /proc/PID/mountinfo lists them. */
async function mounts(pid: number): Promise<Map<string, string[]>> {
  const lines = (await fs.readFile(`/proc/${pid}/mountinfo`, 'utf8')).trim().split('\n');
  return new Map(lines.map((l) => l.split(' ')).map((f) => [f[4]!, f[5]!.split(',')]));
}

/** Low pids a killed container's work dirs are planted under, for the next run to find its own pid among them. */
const PLANTED_PIDS = 64;
const isWorkdir = (name: string) => /^kustomate-\d+-\d+-/.test(name);
/** The kustomate process of a container (Node names its main thread MainThread, so by its command line). */
const operatorOf = async (c: Container) => (await containerProcesses((await c.pid())!)).find((p) => p.cmdline.startsWith('/usr/local/bin/node /app/dist/cli/main.js run '))!;

describe.skipIf(!!cannotRun)(`the kustomate image, built by npm run image and run under podman${cannotRun ? ` (SKIPPED: ${cannotRun})` : ''}`, () => {
  let ns: string;
  let template: PodTemplate;
  const containers: Container[] = [];
  const leases: string[] = [];

  beforeAll(async () => {
    // The clone's own script, with this checkout's cache (base rootfs, Go build cache).
    await execa('npm', ['run', 'image'], { cwd: clone, env: { PATH: node24Path, KUSTOMATE_CACHE: CACHE_DIR }, stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
    // The ServiceAccount, its RBAC and the Deployment whose pod is run here.
    await k(['apply', '-k', 'kustomize/kustomate']);
    template = await deployedTemplate(KUBECTL, kubeconfig(), 'kustomate-system', 'kustomate');
    ns = await createNamespace('e2e-image');
  }, 900_000);

  afterAll(async () => {
    for (const c of containers) await c.remove();
    if (ns) await cleanNamespace(ns);
    await k(['delete', '-k', 'kustomize/kustomate', '--ignore-not-found', '--timeout=120s'], { reject: false, timeoutMs: 130_000 });
  });

  /** The install base's pod, running this image with `args` (a Lease of its own, health on a free port). */
  async function start(args: string[], more: Partial<ContainerOptions> = {}) {
    const port = await freePort();
    const lease = `e2e-image-${ns.split('-').at(-1)}-${leases.length}`;
    leases.push(lease);
    const c = await startContainer({
      template,
      namespace: 'kustomate-system',
      kubectl: KUBECTL,
      kubeconfig: kubeconfig(),
      image: IMAGE,
      args: withHealthPort(['run', '--namespace', ns, '--leader-election', '--leader-election-id', lease, '--health-host=0.0.0.0', '--log-format=json', ...args, 'sample'], port),
      ...more,
    });
    containers.push(c);
    await waitFor('/readyz', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 60_000, 250);
    return { c, port, lease };
  }

  const sample = (name: string, count: number) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name, namespace: ns }, spec: { count } });
  const replicas = async (name: string) => (await getJson(['deployment', `${name}-demo-deploy`, '-n', ns]))?.spec?.replicas as number | undefined;

  it(`is localhost/kustomate:<package version>: user 65532, tini as entrypoint, the project's Node 24 and kubectl ${KUBE_VERSION}`, async () => {
    expect(IMAGE).toBe(`localhost/kustomate:${version}`);
    const config = JSON.parse((await podman(['image', 'inspect', IMAGE, '--format', '{{json .Config}}'])).stdout);
    expect(config.User).toBe('65532:65532');
    expect(config.Entrypoint).toEqual(['/usr/bin/tini', '--', '/usr/local/bin/node', '/app/dist/cli/main.js']);
    const kubectlVersion = JSON.parse((await podman(['run', '--rm', ...PODMAN_RUN, '--entrypoint', 'kubectl', IMAGE, 'version', '--client', '-o', 'json'])).stdout);
    expect(kubectlVersion.clientVersion.gitVersion).toBe(KUBE_VERSION);
    // Built as lab/cluster builds the control plane's kubectl: the same version fields, the same Go.
    const clusterVersion = JSON.parse((await execa(KUBECTL, ['version', '--client', '-o', 'json'], { timeout: 30_000 })).stdout);
    expect(kubectlVersion.clientVersion).toEqual(clusterVersion.clientVersion);
    expect((await podman(['run', '--rm', ...PODMAN_RUN, '--entrypoint', 'node', IMAGE, '--version'])).stdout.trim()).toBe(process.version);
  });

  it('runs as uid 65532 under tini, on a read-only root with a writable /tmp and a TokenRequest token mounted read-only, and reconciles a Sample to Ready=True', async () => {
    const { c, port, lease } = await start([]);
    const pid1 = (await c.pid())!;
    const procs = await containerProcesses(pid1);
    const init = procs.find((p) => p.nsPid === 1)!;
    const operator = procs.find((p) => p.ppid === init.pid)!;
    expect(init.comm).toBe('tini');
    expect(operator.cmdline).toMatch(/^\/usr\/local\/bin\/node \/app\/dist\/cli\/main\.js run /);
    expect(procs.map((p) => p.uid)).toEqual(procs.map(() => 65532));
    // The security context as the kernel applies it (proc(5)): no capabilities, no_new_privs, a seccomp filter.
    expect(operator.status).toMatchObject({ CapEff: '0000000000000000', CapBnd: '0000000000000000', NoNewPrivs: '1', Seccomp: '2' });

    const m = await mounts(operator.pid);
    expect(m.get('/')).toContain('ro');
    expect(m.get('/tmp')).toContain('rw');
    // /var/run is a link to /run in Debian: the kernel lists the mount where it really is.
    expect(m.get('/run/secrets/kubernetes.io/serviceaccount')).toContain('ro');
    // The token is a TokenRequest one: bound to the ServiceAccount, with an expiry (a legacy Secret token has none).
    const claims = JSON.parse(Buffer.from((await fs.readFile(path.join(c.serviceAccountDir, 'token'), 'utf8')).split('.')[1]!, 'base64url').toString());
    expect(claims.sub).toBe('system:serviceaccount:kustomate-system:kustomate');
    expect(claims.exp - claims.iat).toBe(3600);

    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    // The Lease went to the ServiceAccount's namespace (from the mounted namespace file), held by this container.
    const hostname = (await podman(['inspect', c.name, '--format', '{{.Config.Hostname}}'])).stdout.trim();
    await waitFor('the lease', async () => (await getJson(['lease', lease, '-n', 'kustomate-system']))?.spec?.holderIdentity?.startsWith(`${hostname}_${operator.nsPid}_`), 30_000);

    await applyObjects(sample('img', 2));
    await waitFor('Sample img Ready=True', async () => readyCondition(await getJson(['sample', 'img', '-n', ns]))?.status === 'True', 90_000);
    expect(await replicas('img')).toBe(2);

    const t0 = Date.now();
    expect(await c.stop()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(c.gracePeriod * 1000);
  });

  it('reaps orphans: a process left to PID 1 does not stay a zombie', async () => {
    const { c } = await start([]);
    const pid1 = (await c.pid())!;
    // The shell exits at once; its sleep is orphaned to the namespace's PID 1, which must wait() for it.
    await podman(['exec', c.name, '/bin/sh', '-c', 'sleep 1 & exit 0']);
    await waitFor('the orphan to end', async () => !(await containerProcesses(pid1)).some((p) => p.comm === 'sleep' && p.state !== 'Z'), 10_000, 100);
    await new Promise((r) => setTimeout(r, 500));
    expect((await containerProcesses(pid1)).filter((p) => p.state === 'Z')).toEqual([]);
    expect(await c.stop()).toBe(0);
  });

  describe('a crash, a restart and a graceful stop, with a kubectl slow enough to catch in the act', () => {
    let tmp: string;
    let restarted: Container;
    const slow = async () => ({
      emptyDirs: { tmp },
      mounts: [[path.join(clone, 'test/e2e/fixtures/slow-kubectl.mjs'), '/fixtures/slow-kubectl.mjs']] as Array<[string, string]>,
      env: { REAL_KUBECTL: '/usr/local/bin/kubectl', SLOW_KUBECTL_MS: '3000' },
    });
    const slowArgs = ['--kubectl', '/fixtures/slow-kubectl.mjs'];
    const workdirs = async () => (await fs.readdir(tmp)).filter(isWorkdir);

    beforeAll(async () => {
      // The pod's emptyDir /tmp: it outlives a container, as on a node.
      tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-emptydir-'));
    });
    afterAll(async () => {
      if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    });

    it('removes the work dirs a killed container left once it runs again, also those named with its own new pid', async () => {
      const { c: first } = await start(slowArgs, await slow());
      const firstPid = (await operatorOf(first)).nsPid;
      await applyObjects(sample('crash', 1));
      const [left] = await waitFor('a work dir in use', async () => {
        const w = await workdirs();
        return w.length ? w : undefined;
      }, 60_000, 100);
      await first.kill('SIGKILL');
      expect(await first.wait()).toBe(137);
      expect(left).toMatch(new RegExp(`^kustomate-${firstPid}-\\d+-`));
      expect(await workdirs()).toContain(left);
      // Pids in a container are counted from 1 again, and the threads of the runtime take some: the next run's pid
      // is likely, not sure, to be the same. The dead process's dirs as they would be named under each low pid
      // make sure one of them carries the new process's pid, with the dead one's start time.
      const planted = Array.from({ length: PLANTED_PIDS }, (_, i) => left!.replace(`kustomate-${firstPid}-`, `kustomate-${i + 1}-`)).filter((n) => n !== left);
      for (const name of planted) {
        await fs.cp(path.join(tmp, left!), path.join(tmp, name), { recursive: true });
        // Copies are this user's; the container's user must be able to empty them, as it can its own.
        await execa('chmod', ['-R', 'a+rwX', path.join(tmp, name)], { timeout: 30_000 });
      }

      ({ c: restarted } = await start(slowArgs, await slow()));
      const again = await operatorOf(restarted);
      expect(again.nsPid).toBeLessThanOrEqual(PLANTED_PIDS);
      const remaining = new Set(await workdirs());
      expect([left!, ...planted].filter((n) => remaining.has(n))).toEqual([]);
      await waitFor('Sample crash Ready=True', async () => readyCondition(await getJson(['sample', 'crash', '-n', ns]))?.status === 'True', 90_000);
    });

    it('stops within the grace period on SIGTERM while its kubectl runs: the apply finishes, and no process or work dir is left', async () => {
      const pid1 = (await restarted.pid())!;
      await k(['patch', 'sample', 'crash', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { count: 3 } })]);
      const inFlight = await waitFor('kubectl apply running in the container', async () => {
        const found = (await containerProcesses(pid1)).filter((p) => p.cmdline.includes('slow-kubectl') && p.cmdline.includes(' apply '));
        return found.length ? found : undefined;
      }, 60_000, 50);
      const t0 = Date.now();
      expect(await restarted.stop()).toBe(0);
      expect(Date.now() - t0).toBeLessThan(restarted.gracePeriod * 1000);
      // The apply that was running when SIGTERM came was let finish.
      expect(await replicas('crash')).toBe(3);
      for (const p of inFlight) expect(await fs.access(`/proc/${p.pid}`).then(() => true, () => false), `pid ${p.pid}`).toBe(false);
      expect(await workdirs()).toEqual([]);
    });
  });
});
