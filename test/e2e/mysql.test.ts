// The MySQL operator (otus.homework) end to end: the seed's cr.yml, backup before delete, restore on create, a password
// change, a failed backup, and passwordSecretRef. The local control plane runs no containers, but kwok completes the
// pods of Jobs and the volume controller binds claims, so the Jobs and volumes are real API objects with real status.
// The operator runs as the install ServiceAccount (kustomize/kustomate), so these tests also prove that its
// ClusterRole holds every permission the MySQL operator's Jobs and volumes need.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, readyCondition, startOperator, tokenKubeconfig, waitFor, type OperatorProcess } from './helpers.ts';

const PASSWORD = 'otuspassword';
const seed = async () => parse(await fs.readFile('lab/demo-mysql.yaml', 'utf8')) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
const nodes = async () => ((await getJson<{ items: any[] }>(['nodes']))?.items ?? []).map((n) => String(n.metadata.name));

/** No node takes new pods: a Job's pod stays Pending, so the Job neither completes nor fails by itself. */
async function cordonAll(on: boolean) {
  for (const node of await nodes()) await k([on ? 'cordon' : 'uncordon', node]);
}

describe('MySQL operator', () => {
  let ns: string;
  let other: string;
  let tenant: string;
  let dir: string;
  let operator: OperatorProcess;

  const mysql = async (name = 'mysql-instance') => getJson(['mysql', name, '-n', ns]);
  const ready = (name = 'mysql-instance') =>
    waitFor(`MySQL ${name} Ready`, async () => {
      const m = await mysql(name);
      return readyCondition(m)?.status === 'True' && m.status.observedGeneration === m.metadata.generation && m;
    }, 90_000);
  const jobs = async () => ((await getJson<{ items: any[] }>(['jobs', '-n', ns]))?.items ?? []);
  const complete = (job: any) => job?.status?.conditions?.some((c: any) => c.type === 'Complete' && c.status === 'True');

  beforeAll(async () => {
    await k(['apply', '-k', 'kustomize/kustomate']);
    ns = await createNamespace('e2e-mysql');
    other = await createNamespace('e2e-mysql-ns');
    tenant = await createNamespace('e2e-mysql-tenant');
    const token = (await k(['create', 'token', 'kustomate', '-n', 'kustomate-system', '--duration', '1h'])).stdout.trim();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-mysql-'));
    operator = startOperator(['--kubeconfig', await tokenKubeconfig(token, dir, 'kustomate'), '--namespace', ns, '--namespace', other, '--namespace', tenant, 'mysql']);
  });
  afterEach(() => cordonAll(false));
  afterAll(async () => {
    await deleteNamespace(ns);
    await deleteNamespace(other);
    await deleteNamespace(tenant);
    await operator.stop();
    await k(['delete', '-k', 'kustomize/kustomate', '--ignore-not-found', '--timeout=120s'], { reject: false, timeoutMs: 130_000 });
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('refuses the seed cr.yml with useless_data, and one without each required field, at kubectl apply', async () => {
    const cr = { ...(await seed()), metadata: { name: 'refused', namespace: ns } };
    const refused = async (obj: object) => (await k(['apply', '-f', '-'], { input: JSON.stringify(obj), reject: false })).stderr;
    expect(await refused({ ...cr, spec: { ...cr.spec, useless_data: 'useless info' } })).toContain('unknown field "spec.useless_data"');
    for (const field of ['image', 'database', 'storage_size']) {
      const { [field]: _gone, ...spec } = cr.spec;
      expect(await refused({ ...cr, spec }), field).toContain(`spec.${field}: Required value`);
    }
    const { password: _p, ...noPassword } = cr.spec;
    expect(await refused({ ...cr, spec: noPassword })).toContain('give exactly one of password and passwordSecretRef');
    expect(await mysql('refused')).toBeUndefined();
  });

  it('makes the seed cr.yml into bound claims, a Deployment, the Service <name> and a restore Job, created without restore-job', async () => {
    await applyObjects({ ...(await seed()), metadata: { name: 'mysql-instance', namespace: ns } });
    const m = await ready();
    expect(m.status.mysql_on_create.message).toBe('mysql-instance created without restore-job');
    expect(readyCondition(m).message).toBe('mysql-instance created without restore-job');
    for (const claim of ['mysql-instance-pvc', 'backup-mysql-instance-pvc']) expect((await getJson(['pvc', claim, '-n', ns])).status.phase, claim).toBe('Bound');
    // The backup claim outlives the MySQL: no ownerReference, so the garbage collector leaves it.
    expect((await getJson(['pvc', 'backup-mysql-instance-pvc', '-n', ns])).metadata.ownerReferences).toBeUndefined();
    const deploy = await getJson(['deployment', 'mysql-instance', '-n', ns]);
    expect(deploy.status.availableReplicas).toBe(1);
    expect(deploy.spec.template.spec.containers[0].image).toBe('mysql:5.7');
    expect((await getJson(['service', 'mysql-instance', '-n', ns])).spec.ports[0].port).toBe(3306);
    const restore = await getJson(['job', m.status.mysql_on_create.restoreJob, '-n', ns]);
    expect(complete(restore)).toBe(true);
    expect(restore.metadata.ownerReferences[0].uid).toBe(m.metadata.uid);
    // kubectl get ms: the CRD's printer columns, as a person reads them.
    const [header, row, ...more] = (await k(['get', 'ms', 'mysql-instance', '-n', ns])).stdout.trim().split('\n').map((l) => l.trim().split(/\s{2,}/));
    expect(more).toEqual([]);
    expect(header).toEqual(['NAME', 'IMAGE', 'DATABASE', 'READY', 'MESSAGE', 'AGE']);
    expect(row!.slice(0, 5)).toEqual(['mysql-instance', 'mysql:5.7', 'otus-database', 'True', 'mysql-instance created without restore-job']);
  });

  it('repairs a label changed by hand on its cluster-scoped data volume within 30 s: the volume is watched too', async () => {
    const m = await ready();
    const volume = `mysql-${m.metadata.uid}`;
    expect((await getJson(['pv', volume])).metadata.labels['app.kubernetes.io/managed-by']).toBe('kustomate');
    await k(['label', 'pv', volume, 'app.kubernetes.io/managed-by=someone-else', '--overwrite']);
    // The relist comes every 10 minutes: only the volume's own watch brings the owner back this soon.
    await waitFor('the label restored', async () => (await getJson(['pv', volume])).metadata.labels['app.kubernetes.io/managed-by'] === 'kustomate', 30_000, 250);
    // Events are posted after the status write that follows the repair.
    const drifted = await waitFor('a Drifted Event', async () => {
      const events = (await getJson(['events', '-n', ns, '--field-selector', `involvedObject.uid=${m.metadata.uid},reason=Drifted`])).items as Array<{ message: string }>;
      return events.find((e) => e.message.startsWith(`PersistentVolume ${volume}:`));
    }, 10_000, 250);
    expect(drifted.message).toMatch(/app\.kubernetes\.io\/managed-by.*changed by kubectl.*re-applied$/);
  });

  it("reserves its backup volume for its own claim: another namespace's claim naming the volume stays Pending, even while the MySQL's claim is late", async () => {
    // The backup volume's name is predictable: backup-<namespace>-<name>-<8 hex of sha256("<namespace>/<name>")>.
    const volume = `backup-${tenant}-target-${createHash('sha256').update(`${tenant}/target`).digest('hex').slice(0, 8)}`;
    const thief = await createNamespace('e2e-mysql-thief');
    try {
      const stolen = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'stolen', namespace: thief }, spec: { storageClassName: '', volumeName: volume, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } };
      // One claim only in the MySQL's namespace: its data claim is made, its backup claim refused for now, so the
      // backup volume exists for a while with no claim of its own.
      await applyObjects(stolen, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'one-claim', namespace: tenant }, spec: { hard: { persistentvolumeclaims: '1' } } });
      await waitFor('the quota counted', async () => (await getJson(['resourcequota', 'one-claim', '-n', tenant]))?.status?.hard);
      await applyObjects({ ...(await seed()), metadata: { name: 'target', namespace: tenant } });
      await waitFor('the backup volume', async () => getJson(['persistentvolume', volume]), 90_000);
      expect(await getJson(['pvc', 'backup-target-pvc', '-n', tenant])).toBeUndefined();
      // A change of the foreign claim makes the volume controller try to bind it at once.
      await k(['annotate', 'pvc', 'stolen', '-n', thief, 'e2e.kustomate.io/nudge=1']);
      await new Promise((r) => setTimeout(r, 5_000));
      expect((await getJson(['pvc', 'stolen', '-n', thief])).status.phase).toBe('Pending');
      expect((await getJson(['persistentvolume', volume])).spec.claimRef).toMatchObject({ namespace: tenant, name: 'backup-target-pvc' });
      await k(['delete', 'resourcequota', 'one-claim', '-n', tenant]);
      await waitFor('MySQL target Ready', async () => readyCondition(await getJson(['mysql', 'target', '-n', tenant]))?.status === 'True', 120_000);
      const own = await getJson(['pvc', 'backup-target-pvc', '-n', tenant]);
      expect(own.status.phase).toBe('Bound');
      expect(own.spec.volumeName).toBe(volume);
      expect((await getJson(['persistentvolume', volume])).spec.claimRef).toMatchObject({ namespace: tenant, name: 'backup-target-pvc', uid: own.metadata.uid });
      expect((await getJson(['pvc', 'stolen', '-n', thief])).status.phase).toBe('Pending');
    } finally {
      await deleteNamespace(thief);
    }
  });

  it('backs up before anything goes: while the backup Job cannot run the Deployment stays; then the backup claim and Job outlive the MySQL', async () => {
    const before = await mysql();
    const job = `backup-mysql-instance-${before.metadata.uid.slice(0, 8)}`;
    await cordonAll(true);
    await k(['delete', 'mysql', 'mysql-instance', '-n', ns, '--wait=false']);
    await waitFor('the backup Job', async () => getJson(['job', job, '-n', ns]));
    const waiting = await waitFor('BackingUp', async () => {
      const m = await mysql();
      return readyCondition(m)?.reason === 'BackingUp' && m;
    });
    expect(readyCondition(waiting).message).toContain(`waiting for backup Job ${ns}/${job}`);
    await new Promise((r) => setTimeout(r, 5_000));
    expect(await getJson(['deployment', 'mysql-instance', '-n', ns]), 'the Deployment went before the backup').toBeDefined();
    expect(complete(await getJson(['job', job, '-n', ns]))).toBeFalsy();
    await cordonAll(false);
    await waitFor('the MySQL gone', async () => !(await mysql()), 90_000);
    expect(complete(await getJson(['job', job, '-n', ns]))).toBe(true);
    expect(await getJson(['deployment', 'mysql-instance', '-n', ns])).toBeUndefined();
    expect(await getJson(['pvc', 'mysql-instance-pvc', '-n', ns])).toBeUndefined();
    const claim = await getJson(['pvc', 'backup-mysql-instance-pvc', '-n', ns]);
    expect(claim.metadata.annotations['kustomate.io/last-backup']).toMatch(new RegExp(`^${job} `));
  });

  it('restores when created again (created with restore-job), and the next delete removes the completed Jobs of earlier runs', async () => {
    const earlier = (await jobs()).map((j) => j.metadata.name);
    expect(earlier.some((n) => n.startsWith('backup-mysql-instance-'))).toBe(true);
    await applyObjects({ ...(await seed()), metadata: { name: 'mysql-instance', namespace: ns } });
    const m = await ready();
    expect(m.status.mysql_on_create.message).toBe('mysql-instance created with restore-job');
    expect(m.status.mysql_on_create.restoredFrom).toMatch(/^backup-mysql-instance-/);
    expect(complete(await getJson(['job', `restore-mysql-instance-${m.metadata.uid.slice(0, 8)}`, '-n', ns]))).toBe(true);
    await k(['delete', 'mysql', 'mysql-instance', '-n', ns, '--timeout=90s'], { timeoutMs: 100_000 });
    const left = (await jobs()).map((j) => j.metadata.name);
    expect(left).toEqual([`backup-mysql-instance-${m.metadata.uid.slice(0, 8)}`]);
  });

  it('changes the root password with a Job when spec.password changes, and the password is in no Job, pod env, status, Event or log', async () => {
    await applyObjects({ ...(await seed()), metadata: { name: 'pw', namespace: ns } });
    const first = await ready('pw');
    await k(['patch', 'mysql', 'pw', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { password: 'n3w-secret-pw' } })]);
    const m = await waitFor('the password changed', async () => {
      const now = await ready('pw');
      return now.metadata.generation > first.metadata.generation && now.status.mysql_password && now;
    });
    const job = await getJson(['job', m.status.mysql_password.job, '-n', ns]);
    expect(complete(job)).toBe(true);
    const env = job.spec.template.spec.containers[0].env;
    const fromSecret = (name: string) => env.find((e: any) => e.name === name).valueFrom.secretKeyRef;
    // From the old password's Secret to the new one's, which the server now reads too.
    const deployEnv = (await getJson(['deployment', 'pw', '-n', ns])).spec.template.spec.containers[0].env;
    expect(deployEnv.find((e: any) => e.name === 'MYSQL_ROOT_PASSWORD').valueFrom.secretKeyRef).toEqual(fromSecret('NEW_PASSWORD'));
    expect(fromSecret('MYSQL_PWD').name).not.toBe(fromSecret('NEW_PASSWORD').name);
    const secret = await getJson(['secret', fromSecret('NEW_PASSWORD').name, '-n', ns]);
    expect(Buffer.from(secret.data.password, 'base64').toString()).toBe('n3w-secret-pw');
    await k(['delete', 'mysql', 'pw', '-n', ns, '--timeout=90s'], { timeoutMs: 100_000 });
    const places: Array<[string, string]> = [
      ['status', JSON.stringify(m.status)],
      ['Jobs', JSON.stringify(await jobs())],
      ['pods', JSON.stringify(await getJson(['pods', '-n', ns]))],
      ['Events', JSON.stringify(await getJson(['events', '-n', ns]))],
      ['the operator log', operator.logs()],
    ];
    for (const [where, text] of places) {
      for (const pw of [PASSWORD, 'n3w-secret-pw']) expect(text.includes(pw), `${pw} in ${where}`).toBe(false);
    }
  });

  it('keeps a MySQL whose backup failed (BackupFailed and a Warning Event) until kustomate.io/skip-backup releases it', async () => {
    await applyObjects({ ...(await seed()), metadata: { name: 'failing', namespace: ns } });
    const m = await ready('failing');
    const job = `backup-failing-${m.metadata.uid.slice(0, 8)}`;
    await cordonAll(true);
    await k(['delete', 'mysql', 'failing', '-n', ns, '--wait=false']);
    await waitFor('the backup Job', async () => getJson(['job', job, '-n', ns]));
    // The Job controller fails a Job past its deadline: a backup whose server never answers ends like this.
    await k(['patch', 'job', job, '-n', ns, '--type=merge', '-p', '{"spec":{"activeDeadlineSeconds":1}}']);
    const failed = await waitFor('BackupFailed', async () => {
      const now = await mysql('failing');
      return readyCondition(now)?.reason === 'BackupFailed' && now;
    }, 60_000);
    expect(readyCondition(failed).message).toContain(`backup Job ${ns}/${job} failed`);
    const warnings = await getJson<{ items: any[] }>(['events', '-n', ns, '--field-selector', 'involvedObject.name=failing,type=Warning']);
    expect(warnings!.items.map((e) => e.reason)).toContain('BackupFailed');
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await mysql('failing'), 'deleted without a backup').toBeDefined();
    expect(await getJson(['deployment', 'failing', '-n', ns])).toBeDefined();
    await k(['annotate', 'mysql', 'failing', '-n', ns, 'kustomate.io/skip-backup=true']);
    await waitFor('the MySQL gone', async () => !(await mysql('failing')), 90_000);
    expect(await getJson(['deployment', 'failing', '-n', ns])).toBeUndefined();
  });

  it('reads the root password from spec.passwordSecretRef, and pointing it at another Secret changes the password with a Job', async () => {
    const secret = (name: string, password: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData: { root: password } });
    await applyObjects(secret('root-1', 'first-secret-pw'), secret('root-2', 'second-secret-pw'));
    const cr = await seed();
    const { password: _p, ...spec } = cr.spec;
    await applyObjects({ ...cr, metadata: { name: 'byref', namespace: ns }, spec: { ...spec, passwordSecretRef: { name: 'root-1', key: 'root' } } });
    await ready('byref');
    const envOf = async () => (await getJson(['deployment', 'byref', '-n', ns])).spec.template.spec.containers[0].env;
    expect((await envOf()).find((e: any) => e.name === 'MYSQL_ROOT_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'root-1', key: 'root' });
    await k(['patch', 'mysql', 'byref', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { passwordSecretRef: { name: 'root-2', key: 'root' } } })]);
    const m = await waitFor('the password Job', async () => {
      const now = await ready('byref');
      return now.status.mysql_password && now;
    });
    const env = (await getJson(['job', m.status.mysql_password.job, '-n', ns])).spec.template.spec.containers[0].env;
    expect(env.filter((e: any) => e.valueFrom).map((e: any) => [e.name, e.valueFrom.secretKeyRef])).toEqual([
      ['MYSQL_PWD', { name: 'root-1', key: 'root' }],
      ['NEW_PASSWORD', { name: 'root-2', key: 'root' }],
    ]);
    expect((await envOf()).find((e: any) => e.name === 'MYSQL_ROOT_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'root-2', key: 'root' });
  });

  it('lets a namespace being deleted go with its MySQL: no backup is attempted, since the backup claim goes too', async () => {
    await applyObjects({ ...(await seed()), metadata: { name: 'in-other', namespace: other } });
    await waitFor('MySQL in-other Ready', async () => readyCondition(await getJson(['mysql', 'in-other', '-n', other]))?.status === 'True', 90_000);
    const started = Date.now();
    await k(['delete', 'namespace', other, '--timeout=60s'], { timeoutMs: 70_000 });
    expect(await getJson(['namespace', other])).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('binds the backup volume a deleted namespace left Released to the claim of a MySQL made there again, and ends Ready', async () => {
    const left = (await getJson<{ items: any[] }>(['persistentvolumes', '-l', 'kustomate.io/owner=mysql.otus.homework.in-other']))!.items.filter((v) => v.spec.claimRef?.namespace === other);
    expect(left.map((v) => v.status.phase)).toEqual(['Released']);
    await k(['create', 'namespace', other]);
    await applyObjects({ ...(await seed()), metadata: { name: 'in-other', namespace: other } });
    await waitFor('MySQL in-other Ready again', async () => readyCondition(await getJson(['mysql', 'in-other', '-n', other]))?.status === 'True', 90_000);
    expect((await getJson(['pvc', 'backup-in-other-pvc', '-n', other])).spec.volumeName).toBe(left[0].metadata.name);
  });
});
