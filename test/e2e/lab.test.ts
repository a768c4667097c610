// The workshop scripts themselves run in CI, so the lab never drifts from the code.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { IMAGE, podman } from '../../lab/image/podman.ts';
import { whyPodmanCannotRun } from '../../lab/image/tools.ts';
import { cleanNamespace, getJson, KUBECTL, kubeconfig } from './helpers.ts';

// Step 8 builds and runs the image: podman and its companions are installed here when missing (Debian, as root).
const noPodman = await whyPodmanCannotRun();
if (noPodman) console.warn(`\n*** lab step 8 is SKIPPED: ${noPodman}\n`);

const runStep = (script: string, env: Record<string, string> = {}, timeout = 300_000) =>
  execa('bash', [script], {
    env: { KUBECTL, KUBECONFIG: kubeconfig(), ...env },
    reject: false,
    all: true,
    timeout,
  });

/** kustomate processes this checkout's lab started and left running (there must be none); `script` names another. */
async function leftoverOperators(script = path.resolve('src/cli/main.ts')): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    if (cmd.includes(script) && cmd.includes(' run ') && cmd.includes('--namespace demo')) found.push(cmd);
  }
  return found;
}

describe('lab scripts', () => {
  // The steps share namespace demo, as the slides do; start and end without it.
  beforeAll(() => cleanNamespace('demo'));
  afterAll(() => cleanNamespace('demo'));

  it('step 1 creates the CRD and a Sample, then deletes it', async () => {
    const r = await runStep('lab/01-crd/run.sh');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('sample.nuvolaris.org/obj created');
    expect(r.all).toContain('sample.nuvolaris.org "obj" deleted');
  });

  it('step 2 applies the Deployment plainly, then through kustomize with the patch', async () => {
    const r = await runStep('lab/02-kustomize/run.sh');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/deployment.apps\/demo-deploy (created|configured|unchanged)/);
    expect(await getJson(['deployment', 'demo-deploy', '-n', 'demo'])).toBeUndefined();
  });

  it('step 3 runs the operator: a Sample becomes a Deployment, scales, and is deleted with it', async () => {
    const r = await runStep('lab/03-operator/run.sh');
    expect(r.exitCode, r.all).toBe(0);
    await new Promise((done) => setTimeout(done, 500));
    expect(await leftoverOperators()).toEqual([]);
    expect(r.all).toContain('sample.nuvolaris.org/obj condition met');
    expect(r.all).toContain('deployment.apps/obj-demo-deploy condition met');
    expect(await getJson(['deployment', 'obj-demo-deploy', '-n', 'demo'])).toBeUndefined();
    expect(await getJson(['sample', 'obj', '-n', 'demo'])).toBeUndefined();
  });

  it('step 4 runs the Database operator: mongo, then mysql with a generated password, then delete', async () => {
    const r = await runStep('lab/04-database/run.sh');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('database.zalando.org/mongo-db condition met');
    expect(r.all).toContain('Pod and Service created by Database mongo-db');
    expect(r.all).toContain('secret/mongo-db-mysql-root');
    expect(await getJson(['database', 'mongo-db', '-n', 'demo'])).toBeUndefined();
    expect(await getJson(['service', 'mongo-db', '-n', 'demo'])).toBeUndefined();
  });

  it('step 5 runs the Gordon operator: pods listed in status, one replaced, scaled down, deleted', async () => {
    const r = await runStep('lab/05-gordon/run.sh');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/gordoncluster-gordon-\S+\tRunning/);
    expect(r.all).toContain('gordon.operator.prgcont.cz/gordoncluster condition met');
    expect(await getJson(['gordon', 'gordoncluster', '-n', 'demo'])).toBeUndefined();
  });

  it('step 6 runs the MySQL operator: useless_data refused, created without restore-job, backed up on delete, restored, password changed', async () => {
    const r = await runStep('lab/06-mysql/run.sh');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('unknown field "spec.useless_data"');
    expect(r.all).toContain('mysql-instance created without restore-job');
    expect(r.all).toContain('mysql-instance created with restore-job');
    expect(r.all).toMatch(/root password changed by Job password-mysql-instance-/);
    expect(r.all).toMatch(/job.batch\/backup-mysql-instance-\S+\s+Complete/);
    expect(await getJson(['mysql', 'mysql-instance', '-n', 'demo'])).toBeUndefined();
    expect(await getJson(['pvc', 'backup-mysql-instance-pvc', '-n', 'demo'])).toBeUndefined();
  });

  it('step 7 runs the DatabaseTable operator on PostgreSQL: the seed table created, a column added, a removal refused and healed, dropped', async () => {
    // No DATABASE_URL: the script starts (here: reuses) the project's local PostgreSQL, as on a fresh clone.
    const r = await runStep('lab/07-databasetable/run.sh', { DATABASE_URL: '' });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('databasetable.kopf.demo/website-users condition met');
    expect(r.all).toContain('CREATE TABLE "website_users" ("user_id" integer, "user_name" varchar(50)');
    expect(r.all).toMatch(/country\s+character varying\(2\)/);
    expect(r.all).toContain('UnsupportedChange: update_table: refused: column last_login would be removed');
    expect(r.all).toContain('Did not find any relation named "website_users".');
    expect(await getJson(['databasetable', 'website-users', '-n', 'demo'])).toBeUndefined();
    const left = new pg.Client({ connectionString: inject('databaseUrl') });
    await left.connect();
    try {
      expect((await left.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'website_users'")).rows).toEqual([]);
    } finally {
      await left.end();
    }
  });

  it.skipIf(!!noPodman)(`step 8 builds the image, deploys it with its RBAC, and a Sample is reconciled by that image as the install's ServiceAccount${noPodman ? ` (SKIPPED: ${noPodman})` : ''}`, async () => {
    const containersBefore = (await podman(['ps', '--all', '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean);
    // A cold image build takes minutes (see the README's Container image section).
    const r = await runStep('lab/08-packaging/run.sh', {}, 840_000);
    expect(r.exitCode, r.all).toBe(0);
    expect((await podman(['image', 'exists', IMAGE], { reject: false })).exitCode).toBe(0);
    expect(r.all).toContain('deployment "kustomate" successfully rolled out');
    expect(r.all).toMatch(/^no$/m);
    expect(r.all).toContain('sample.nuvolaris.org/obj condition met');
    // The leader was the container: its host name is kustomate-<6 hex>, its identity <host>_<pid>_<random>.
    expect(r.all).toMatch(/^kustomate-[a-z-]+\s+kustomate-[0-9a-f]{6}_\d+_[0-9a-f]{6}\s/m);
    expect(await getJson(['deployment', 'obj-demo-deploy', '-n', 'demo'])).toBeUndefined();
    expect(await getJson(['namespace', 'kustomate-system'])).toBeUndefined();
    // The container went with the script.
    expect((await podman(['ps', '--all', '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean)).toEqual(containersBefore);
  }, 900_000);

  it('step 9 writes a project with kustomate new, edits its base, renders, diffs, runs it to Ready and bundles it', async () => {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-lab-09-'));
    const r = await runStep('lab/09-your-operator/run.sh', { WORK: work });
    expect(r.exitCode, r.all).toBe(0);
    // The base edit is caught by the golden test, then rendered.
    expect(r.all).toMatch(/^changed .*greeting\.out\.yaml$/m);
    expect(r.all).toMatch(/^\+\s+image: nginx:1\.28$/m);
    expect(r.all).toContain('golden: exit code 1');
    // Before the Greeting exists, diff shows its objects as new; once applied, a change of replicas, then nothing.
    expect(r.all).toMatch(/^\+\s+name: example-web$/m);
    expect(r.all).toContain('greeting.lab.kustomate.io/example condition met');
    expect(r.all).toMatch(/^-\s+replicas: 1\n\+\s+replicas: 3$/m);
    expect(r.all).toContain('diff: exit code 0, nothing to change');
    expect(r.all).toContain('bundle checks passed: one CSV (greeter.v0.1.0)');
    expect(r.all).toContain('bundle/manifests/greeter.clusterserviceversion.yaml');
    // WORK keeps the project: the edited base, the rewritten golden file, the bundle.
    const project = path.join(work, 'greeter');
    expect(await fs.readFile(path.join(project, 'test/golden/greeting.out.yaml'), 'utf8')).toContain('image: nginx:1.28');
    expect((await fs.readdir(path.join(project, 'bundle/manifests'))).sort()).toEqual(['greeter.clusterserviceversion.yaml', 'lab.kustomate.io_greetings.yaml']);
    // It cleans up the cluster and its process: the Greeting and its children, the CRD, the operator.
    await new Promise((done) => setTimeout(done, 500));
    expect(await leftoverOperators('node_modules/kustomate/dist/cli/main.js')).toEqual([]);
    expect(await getJson(['deployment', 'example-web', '-n', 'demo'])).toBeUndefined();
    expect(await getJson(['crd', 'greetings.lab.kustomate.io'])).toBeUndefined();
    await fs.rm(work, { recursive: true, force: true });
  });
});
