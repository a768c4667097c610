import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_BASES_DIR } from '../../src/kustomize/bases.ts';
import type { KubeObject } from '../../src/kube/api.ts';
import { createKubectlRunner } from '../../src/kubectl/runner.ts';
import { renderSpec } from '../../src/kustomize/commands.ts';
import { database, databaseProblems } from '../../src/operators/database/index.ts';
import { repositoryOf, setAllowedImages } from '../../src/operators/images.ts';
import { gordon, gordonReplicas } from '../../src/operators/gordon/index.ts';
import { adopt } from '../../src/operator/adopt.ts';
import type { Operator } from '../../src/operator/operator.ts';
import { kubectlBinary } from '../helpers/kubectl-binary.ts';

const kubectl = createKubectlRunner({ binary: kubectlBinary() });
const dbObj = (spec: unknown, name = 'db1'): KubeObject => ({ apiVersion: 'zalando.org/v1', kind: 'Database', metadata: { name, namespace: 'ns', uid: 'u-1' }, spec });

async function renderDocs(op: Operator<any>, obj: KubeObject) {
  const { spec } = op.render(obj)[0]!;
  const owner = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: 'ns', uid: obj.metadata.uid };
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-render-'));
  try {
    const { result } = await renderSpec({ kubectl, basesDir: DEFAULT_BASES_DIR }, spec, owner, path.join(out, 'wd'));
    expect(result.stderr).toBe('');
    return parseAllDocuments(result.stdout).map((d) => d.toJS());
  } finally {
    await fs.rm(out, { recursive: true, force: true });
  }
}

describe('Database operator', () => {
  it('renders a mongo Pod named <name>-mongo and a NodePort Service <name> on 27017 selecting only it', async () => {
    const docs = await renderDocs(database, dbObj({ type: 'mongo' }));
    const pod = docs.find((d) => d.kind === 'Pod');
    const svc = docs.find((d) => d.kind === 'Service');
    expect(pod.metadata.name).toBe('db1-mongo');
    expect(pod.spec.containers[0].image).toBe('mongo:4.0');
    expect(svc).toMatchObject({ metadata: { name: 'db1' }, spec: { type: 'NodePort', ports: [{ port: 27017 }] } });
    for (const [key, value] of Object.entries(svc.spec.selector as Record<string, string>)) expect(pod.metadata.labels[key]).toBe(value);
    expect(svc.spec.selector['kustomate.io/owner']).toBe('database.zalando.org.db1');
  });

  it('renders mysql with the password taken from the Secret, and spec.image overriding the default', async () => {
    const docs = await renderDocs(database, dbObj({ type: 'mysql', image: 'mysql:8.4' }));
    const pod = docs.find((d) => d.kind === 'Pod');
    expect(pod.metadata.name).toBe('db1-mysql');
    expect(pod.spec.containers[0]).toMatchObject({
      image: 'mysql:8.4',
      env: [{ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'db1-mysql-root-u-1', key: 'password' } } }],
    });
    expect(JSON.stringify(docs)).not.toMatch(/"value"/);
  });

  it('takes images only from allowed repositories, as the container runtime reads their names', () => {
    expect(repositoryOf('mysql:8.0')).toBe('docker.io/library/mysql');
    expect(repositoryOf('bitnami/mysql')).toBe('docker.io/bitnami/mysql');
    expect(repositoryOf('localhost:5000/team/db@sha256:' + 'a'.repeat(64))).toBe('localhost:5000/team/db');
    expect(repositoryOf('quay.io/mongo/mongo:7')).toBe('quay.io/mongo/mongo');
    for (const bad of ['MySQL', 'mysql:8.0; rm -rf /', '../mysql', '/mysql', 'mysql:', ' mysql', 'my sql']) expect(repositoryOf(bad), bad).toBeUndefined();
    expect(databaseProblems(dbObj({ type: 'mysql', image: 'docker.io/library/mysql:8.4' }))).toEqual([]);
    expect(databaseProblems(dbObj({ type: 'mysql', image: 'evil.example.com/mysql:8.0' }))[0]).toMatch(/images from evil\.example\.com\/mysql are not allowed/);
    expect(databaseProblems(dbObj({ type: 'mysql', image: 'docker.io/library/mysql-evil' }))[0]).toMatch(/not allowed/);
    try {
      setAllowedImages(['quay.io/', 'mysql']);
      expect(databaseProblems(dbObj({ type: 'mongo', image: 'quay.io/any/thing:1' }))).toEqual([]);
      expect(databaseProblems(dbObj({ type: 'mysql', image: 'mysql:5.7' }))).toEqual([]);
      expect(databaseProblems(dbObj({ type: 'mongo', image: 'mongo:4.0' }))[0]).toMatch(/not allowed/);
      expect(() => setAllowedImages(['not a repo'])).toThrow(/--allowed-images/);
    } finally {
      setAllowedImages(undefined);
    }
  });

  it('wants a Database name that a Service can have: a DNS-1035 label of at most 63 characters', () => {
    expect(databaseProblems(dbObj({ type: 'mongo' }, 'a'.repeat(63)))).toEqual([]);
    expect(databaseProblems(dbObj({ type: 'mongo' }, 'a'.repeat(64)))[0]).toBe('metadata.name must be at most 63 characters, got 64');
    expect(databaseProblems(dbObj({ type: 'mongo' }, '1db'))[0]).toMatch(/must start with a letter/);
    expect(databaseProblems(dbObj({ type: 'constructor' }))[0]).toMatch(/spec.type must be one of mongo, mysql/);
  });

  it('reports a missing or unknown type, and a bad image', () => {
    expect(databaseProblems(dbObj({}))).toEqual(['spec.type must be one of mongo, mysql, got nothing']);
    expect(databaseProblems(dbObj({ type: 'postgres' }))).toEqual(['spec.type must be one of mongo, mysql, got "postgres"']);
    expect(databaseProblems(dbObj({ type: 'mongo', image: 'a b' }))[0]).toMatch(/spec.image/);
    expect(databaseProblems(dbObj({ type: 'mysql' }))).toEqual([]);
  });
});

describe('Gordon operator', () => {
  it('patches the replicas of its Deployment', async () => {
    const obj: KubeObject = { apiVersion: 'operator.prgcont.cz/v1', kind: 'Gordon', metadata: { name: 'g', namespace: 'ns' }, spec: { gordon: { replicas: 4 } } };
    const [deploy] = await renderDocs(gordon, obj);
    expect(deploy).toMatchObject({ kind: 'Deployment', metadata: { name: 'g-gordon' }, spec: { replicas: 4 } });
    expect(deploy.spec.template.spec.containers[0].image).toBe('prgcont/gordon:v1.0');
  });

  it('refuses more replicas than the documented limit, and any int32 overflow, naming the field and the limit', () => {
    const g = (replicas: unknown): KubeObject => ({ apiVersion: 'operator.prgcont.cz/v1', kind: 'Gordon', metadata: { name: 'g' }, spec: { gordon: { replicas } } });
    expect(gordonReplicas(g(100))).toBe(100);
    expect(gordonReplicas(g(101))).toBe('spec.gordon.replicas must be at most 100, got 101');
    expect(gordonReplicas(g(3_000_000_000))).toBe('spec.gordon.replicas must be at most 100, got 3000000000');
    expect(gordonReplicas(g(1.5))).toMatch(/whole number/);
  });

  it('requires spec.gordon.replicas to be a whole number ≥ 0', () => {
    const g = (spec: unknown): KubeObject => ({ apiVersion: 'operator.prgcont.cz/v1', kind: 'Gordon', metadata: { name: 'g' }, spec });
    expect(gordonReplicas(g({ gordon: { replicas: 0 } }))).toBe(0);
    expect(gordonReplicas(g({}))).toMatch(/spec.gordon.replicas/);
    expect(gordonReplicas(g({ gordon: { replicas: -2 } }))).toMatch(/spec.gordon.replicas/);
  });
});

describe('adopt', () => {
  it('sets namespace, owner labels and a controller ownerReference, keeping other owners', () => {
    const child = adopt(dbObj({ type: 'mysql' }), { metadata: { name: 's', ownerReferences: [{ uid: 'other' }], labels: { keep: 'me' } } });
    expect(child.metadata).toEqual({
      name: 's',
      namespace: 'ns',
      labels: {
        keep: 'me',
        'app.kubernetes.io/managed-by': 'kustomate',
        'app.kubernetes.io/instance': 'db1',
        'kustomate.io/owner-kind': 'database.zalando.org',
        'kustomate.io/owner': 'database.zalando.org.db1',
      },
      ownerReferences: [{ uid: 'other' }, { apiVersion: 'zalando.org/v1', kind: 'Database', name: 'db1', uid: 'u-1', controller: true, blockOwnerDeletion: true }],
    });
  });
});
