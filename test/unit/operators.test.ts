import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_BASES_DIR } from '../../src/cli/paths.ts';
import { resourcePath, type KubeObject } from '../../src/kube/api.ts';
import { renderKustomization } from '../../src/kubectl/kustomize.ts';
import { createKubectlRunner, type KubectlRunner } from '../../src/kubectl/runner.ts';
import { createWorkdir } from '../../src/kustomize/workdir.ts';
import { database, databaseProblems } from '../../src/operators/database/index.ts';
import { gordon, gordonReplicas } from '../../src/operators/gordon/index.ts';
import { adopt } from '../../src/runtime/adopt.ts';
import { createEventRecorder } from '../../src/runtime/events.ts';
import { Operator } from '../../src/runtime/operator.ts';
import { Reactor } from '../../src/runtime/reactor.ts';
import { StatusWriter } from '../../src/runtime/status.ts';
import { kubectlBinary } from '../helpers/kubectl-binary.ts';
import { FakeApi } from './fake-api.ts';

const kubectl = createKubectlRunner({ binary: kubectlBinary() });
const dbObj = (spec: unknown, name = 'db1'): KubeObject => ({ apiVersion: 'zalando.org/v1', kind: 'Database', metadata: { name, namespace: 'ns', uid: 'u-1' }, spec });

async function renderDocs(op: Operator, obj: KubeObject) {
  const wd = await createWorkdir(op.render(obj), { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: 'ns', uid: obj.metadata.uid }, { basesDir: DEFAULT_BASES_DIR });
  try {
    const r = await renderKustomization(kubectl, wd.dir);
    expect(r.stderr).toBe('');
    return parseAllDocuments(r.stdout).map((d) => d.toJS());
  } finally {
    await wd.cleanup();
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
      env: [{ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'db1-mysql-root', key: 'password' } } }],
    });
    expect(JSON.stringify(docs)).not.toMatch(/"value"/);
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
      labels: { keep: 'me', 'app.kubernetes.io/managed-by': 'kustomate', 'app.kubernetes.io/instance': 'db1', 'kustomate.io/owner': 'database.zalando.org.db1' },
      ownerReferences: [{ uid: 'other' }, { apiVersion: 'zalando.org/v1', kind: 'Database', name: 'db1', uid: 'u-1', controller: true, blockOwnerDeletion: true }],
    });
  });
});

describe('timers', () => {
  it('run after a successful create, write status only when the result changes, and come back every interval', async () => {
    const api = new FakeApi();
    let now = 0;
    let value = 'a';
    let runs = 0;
    const op = new Operator({ name: 't', resource: { group: 'x.io', version: 'v1', plural: 'things', kind: 'Thing' } })
      .onCreate('thing_create', () => ({ message: 'made' }))
      .timer('thing_tick', { intervalMs: 1_000 }, () => {
        runs++;
        return { value };
      });
    const path = resourcePath(op.resource, 'ns', 'a');
    api.put(path, { apiVersion: 'x.io/v1', kind: 'Thing', metadata: { name: 'a', namespace: 'ns', uid: 'u' }, spec: {} });
    const noKubectl: KubectlRunner = async () => {
      throw new Error('no kubectl here');
    };
    const reactor = new Reactor({
      api,
      operator: op,
      status: new StatusWriter(api, op.resource),
      events: createEventRecorder(api, () => {}),
      logger: pino({ level: 'silent' }),
      kubectl: noKubectl,
      basesDir: DEFAULT_BASES_DIR,
      now: () => now,
    });
    expect(await reactor.reconcile(api.get(path)!)).toBe(1_000);
    expect(api.get(path)!.status?.thing_tick).toEqual({ value: 'a' });
    const writes = () => api.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith('/status')).length;
    const before = writes();
    now = 400;
    expect(await reactor.reconcile(api.get(path)!)).toBe(600);
    now = 1_000;
    await reactor.reconcile(api.get(path)!);
    expect(runs).toBe(2);
    expect(writes()).toBe(before);
    value = 'b';
    now = 2_000;
    await reactor.reconcile(api.get(path)!);
    expect(api.get(path)!.status?.thing_tick).toEqual({ value: 'b' });
  });
});
