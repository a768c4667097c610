// The MySQL operator's specs, rendered with the real kubectl kustomize (no cluster), and its validation.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/kube/api.ts';
import { createKubectlRunner } from '../../src/kubectl/runner.ts';
import { DEFAULT_BASES_DIR } from '../../src/kustomize/bases.ts';
import { renderSpec } from '../../src/kustomize/commands.ts';
import type { KustomizeSpec } from '../../src/kustomize/workdir.ts';
import { secretDigest } from '../../src/operator/digest.ts';
import { backupJobSpec, backupStorageSpec, mysqlProblems, passwordJobSpec, restoreJobSpec, serverSpec } from '../../src/operators/mysql/index.ts';
import { kubectlBinary } from '../helpers/kubectl-binary.ts';

const kubectl = createKubectlRunner({ binary: kubectlBinary() });
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

const UID = '6eb17dad-0eb0-45e9-9621-f3e9d7ff36b7';
async function seed(spec: Record<string, unknown> = {}): Promise<KubeObject> {
  const obj = parse(await fs.readFile('lab/demo-mysql.yaml', 'utf8')) as KubeObject;
  return { ...obj, metadata: { ...obj.metadata, namespace: 'demo', uid: UID }, spec: { ...(obj.spec as object), ...spec } };
}

async function render(spec: KustomizeSpec, obj: KubeObject): Promise<any[]> {
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-mysql-'));
  dirs.push(out);
  const owner = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: 'demo', uid: obj.metadata.uid };
  const { result } = await renderSpec({ kubectl, basesDir: DEFAULT_BASES_DIR }, spec, owner, path.join(out, 'wd'));
  expect(result.stderr).toBe('');
  return parseAllDocuments(result.stdout).map((d) => d.toJS());
}

describe('MySQL operator specs', () => {
  it("renders the seed's cr.yml as a volume bound by name, its claim, a Recreate Deployment and the Service <name>", async () => {
    const docs = await render(serverSpec(await seed()), await seed());
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      'Deployment/mysql-instance',
      `PersistentVolume/mysql-${UID}`,
      'PersistentVolumeClaim/mysql-instance-pvc',
      'Service/mysql-instance',
    ]);
    const pvc = docs.find((d) => d.kind === 'PersistentVolumeClaim');
    expect(pvc.spec).toMatchObject({ volumeName: `mysql-${UID}`, storageClassName: '', resources: { requests: { storage: '1Gi' } } });
    const pv = docs.find((d) => d.kind === 'PersistentVolume');
    expect(pv.metadata.namespace).toBeUndefined();
    expect(pv.metadata.ownerReferences).toBeUndefined();
    expect(pv.metadata.annotations['kustomate.io/owner-uid']).toBe(UID);
    const deploy = docs.find((d) => d.kind === 'Deployment');
    expect(deploy.spec.strategy.type).toBe('Recreate');
    const container = deploy.spec.template.spec.containers[0];
    expect(container.image).toBe('mysql:5.7');
    const secret = `mysql-instance-mysql-root-${secretDigest(UID, 'otuspassword').slice(7, 17)}`;
    expect(container.env).toEqual([
      { name: 'MYSQL_DATABASE', value: 'otus-database' },
      { name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: secret, key: 'password' } } },
    ]);
    expect(deploy.spec.template.spec.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'mysql-instance-pvc' } }]);
    expect(docs.find((d) => d.kind === 'Service').spec.selector['kustomate.io/owner']).toBe('mysql.otus.homework.mysql-instance');
  });

  it('claims from the StorageClass when spec.storageClassName is given, and makes no volume of its own', async () => {
    const obj = await seed({ storageClassName: 'fast' });
    for (const spec of [serverSpec(obj), backupStorageSpec(obj)]) {
      const docs = await render(spec, obj);
      expect(docs.some((d) => d.kind === 'PersistentVolume')).toBe(false);
      expect(docs.find((d) => d.kind === 'PersistentVolumeClaim').spec).toMatchObject({ storageClassName: 'fast' });
    }
  });

  it('renders the backup claim backup-<name>-pvc and its volume with no ownerReference, named by namespace and name only', async () => {
    const docs = await render(backupStorageSpec(await seed()), await seed());
    const pvc = docs.find((d) => d.kind === 'PersistentVolumeClaim');
    expect(pvc.metadata.name).toBe('backup-mysql-instance-pvc');
    expect(pvc.metadata.ownerReferences).toBeUndefined();
    const again = await render(backupStorageSpec({ ...(await seed()), metadata: { ...(await seed()).metadata, uid: 'another-uid' } }), await seed());
    expect(again.find((d) => d.kind === 'PersistentVolume').metadata.name).toBe(docs.find((d) => d.kind === 'PersistentVolume').metadata.name);
  });

  it('names Jobs per run and passes every value through the environment, the password only from Secrets', async () => {
    const obj = await seed();
    const from = { name: 'old-secret', key: 'password' };
    const to = { name: 'new-secret', key: 'root' };
    const [backup] = await render(backupJobSpec(obj), obj);
    const [restore] = await render(restoreJobSpec(obj), obj);
    const [password] = await render(passwordJobSpec(obj, 'password-mysql-instance-abc', from, to), obj);
    expect(backup.metadata.name).toBe('backup-mysql-instance-6eb17dad');
    expect(backup.metadata.ownerReferences).toBeUndefined();
    expect(restore.metadata.name).toBe('restore-mysql-instance-6eb17dad');
    expect(restore.metadata.ownerReferences[0].uid).toBe(UID);
    for (const job of [backup, restore, password]) {
      const c = job.spec.template.spec.containers[0];
      expect(c.command).toEqual(['sh', '-c']);
      // One constant script: nothing of the object is spliced into it.
      expect(c.args).toHaveLength(1);
      expect(c.args[0]).not.toMatch(/mysql-instance|otus/);
      expect(c.env.find((e: any) => e.name === 'MYSQL_HOST').value).toBe('mysql-instance');
      expect(job.spec.template.metadata.labels['kustomate.io/owner']).toBe('mysql.otus.homework.mysql-instance');
    }
    expect(backup.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe('backup-mysql-instance-pvc');
    expect(password.spec.template.spec.containers[0].env.filter((e: any) => e.valueFrom).map((e: any) => [e.name, e.valueFrom.secretKeyRef])).toEqual([
      ['MYSQL_PWD', from],
      ['NEW_PASSWORD', to],
    ]);
    expect(JSON.stringify([backup, restore, password])).not.toContain('otuspassword');
  });
});

describe('MySQL validation', () => {
  it("accepts the seed's cr.yml and one at every limit", async () => {
    expect(mysqlProblems(await seed())).toEqual([]);
    const atLimits = await seed({ storage_size: '1Ti', database: 'd'.repeat(64), password: '~'.repeat(128) });
    expect(mysqlProblems({ ...atLimits, metadata: { ...atLimits.metadata, name: 'n'.repeat(40) } })).toEqual([]);
  });

  it('names each bad field and its limit, and never quotes a password back', async () => {
    const problems = (spec: Record<string, unknown>) => mysqlProblems({ ...({} as KubeObject), apiVersion: 'otus.homework/v1', kind: 'MySQL', metadata: { name: 'm' }, spec });
    const ok = { image: 'mysql:5.7', database: 'db', password: 'pw', storage_size: '1Gi' };
    expect(problems({ ...ok, storage_size: '2Ti' })).toEqual(['spec.storage_size must be at most 1Ti, got 2Ti']);
    expect(problems({ ...ok, storage_size: '1Gi; rm -rf /' })[0]).toMatch(/^spec.storage_size must be a size/);
    expect(problems({ ...ok, database: "x'; DROP DATABASE y; --" })[0]).toMatch(/^spec.database must be 1 to 64/);
    expect(problems({ ...ok, password: 'secret\nline' })).toEqual(['spec.password must be 1 to 128 printable ASCII characters']);
    expect(problems({ ...ok, passwordSecretRef: { name: 'r' } })).toEqual(['spec must give exactly one of password and passwordSecretRef']);
    expect(problems({ ...ok, password: undefined, passwordSecretRef: { name: '../x', key: 'a/b' } })).toHaveLength(2);
    expect(problems({ ...ok, image: 'evil.example.com/miner' })[0]).toMatch(/images from evil.example.com\/miner are not allowed/);
    expect(mysqlProblems({ apiVersion: 'otus.homework/v1', kind: 'MySQL', metadata: { name: 'n'.repeat(41) }, spec: ok })).toEqual(['metadata.name must be at most 40 characters, got 41']);
  });
});
