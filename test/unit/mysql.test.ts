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
import { backupJobSpec, backupStorageSpec, mysqlProblems, passwordJobSpec, restoreJobSpec, reuseReleasedBackupVolume, serverSpec } from '../../src/operators/mysql/index.ts';
import { kubectlBinary } from '../helpers/kubectl-binary.ts';
import { FakeApi } from './fake-api.ts';

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

  it('reserves each volume it makes for its own claim (claimRef: namespace and name), so no claim elsewhere can bind it', async () => {
    const obj = await seed();
    const server = await render(serverSpec(obj), obj);
    const backup = await render(backupStorageSpec(obj), obj);
    const volume = (docs: any[]) => docs.find((d) => d.kind === 'PersistentVolume');
    const claim = (docs: any[]) => docs.find((d) => d.kind === 'PersistentVolumeClaim');
    expect(volume(server).spec.claimRef).toEqual({ namespace: 'demo', name: 'mysql-instance-pvc' });
    expect(volume(backup).spec.claimRef).toEqual({ namespace: 'demo', name: 'backup-mysql-instance-pvc' });
    // Both ends name each other: the claim the volume, the volume the claim.
    for (const docs of [server, backup]) {
      expect(claim(docs).metadata.name).toBe(volume(docs).spec.claimRef.name);
      expect(claim(docs).spec.volumeName).toBe(volume(docs).metadata.name);
    }
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
    expect(problems({ ...ok, storage_size: '0' })).toEqual(['spec.storage_size must be more than 0, got "0"']);
    expect(problems({ ...ok, storageClassName: 's'.repeat(254) })[0]).toMatch(/^spec.storageClassName must be a StorageClass name \(a DNS subdomain of at most 253 characters\)/);
    expect(problems({ ...ok, database: "x'; DROP DATABASE y; --" })[0]).toMatch(/^spec.database must be 1 to 64/);
    expect(problems({ ...ok, password: 'secret\nline' })).toEqual(['spec.password must be 1 to 128 printable ASCII characters']);
    expect(problems({ ...ok, passwordSecretRef: { name: 'r' } })).toEqual(['spec must give exactly one of password and passwordSecretRef']);
    expect(problems({ ...ok, password: undefined, passwordSecretRef: { name: '../x', key: 'a/b' } })).toHaveLength(2);
    expect(problems({ ...ok, image: 'evil.example.com/miner' })[0]).toMatch(/images from evil.example.com\/miner are not allowed/);
    expect(mysqlProblems({ apiVersion: 'otus.homework/v1', kind: 'MySQL', metadata: { name: 'n'.repeat(41) }, spec: ok })).toEqual(['metadata.name must be at most 40 characters, got 41']);
  });
});

describe('MySQL backup volume left Released by a claim that is gone', () => {
  const path = (name: string) => `/api/v1/persistentvolumes/${name}`;
  const released = (name: string, owner: string, phase = 'Released'): KubeObject => ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, labels: { 'kustomate.io/owner': owner } },
    spec: { claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: 'demo', name: 'backup-mysql-instance-pvc', uid: 'uid-of-the-claim-that-went', resourceVersion: '41' } },
    status: { phase },
  });
  const ctxFor = async (api: FakeApi) => {
    const body = await seed();
    return { api, body: body as never, name: body.metadata.name, signal: new AbortController().signal };
  };
  const volumeName = async () => {
    const volume = (await render(backupStorageSpec(await seed()), await seed())).find((d) => d.kind === 'PersistentVolume');
    return volume.metadata.name as string;
  };

  it('is reserved again for the new backup claim by namespace and name, without the old uid, never left open to any claim', async () => {
    const api = new FakeApi();
    const name = await volumeName();
    api.put(path(name), released(name, 'mysql.otus.homework.mysql-instance'));
    await reuseReleasedBackupVolume(await ctxFor(api));
    const claimRef = (api.get(path(name))!.spec as { claimRef?: Record<string, unknown> }).claimRef;
    expect(claimRef).toEqual({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: 'demo', name: 'backup-mysql-instance-pvc' });
  });

  it('is left alone when it is not Released, or not this MySQL’s by its owner label', async () => {
    const api = new FakeApi();
    const name = await volumeName();
    for (const volume of [released(name, 'mysql.otus.homework.mysql-instance', 'Bound'), released(name, 'mysql.otus.homework.someone-else')]) {
      api.put(path(name), volume);
      await reuseReleasedBackupVolume(await ctxFor(api));
      expect(api.get(path(name))!.spec).toEqual(volume.spec);
    }
    expect(api.calls.filter((c) => c.method === 'PATCH')).toEqual([]);
  });
});
