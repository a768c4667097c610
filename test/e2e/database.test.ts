// The Database operator end to end: mongo or mysql Pod + NodePort Service per Database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, readyCondition, startOperator, waitFor, type OperatorProcess } from './helpers.ts';

const db = (namespace: string, name: string, spec: Record<string, unknown>) => ({ apiVersion: 'zalando.org/v1', kind: 'Database', metadata: { name, namespace }, spec });

describe('Database operator', () => {
  let ns: string;
  let operator: OperatorProcess;
  const ready = (name: string) =>
    waitFor(`Database ${name} Ready`, async () => {
      const d = await getJson(['database', name, '-n', ns]);
      return readyCondition(d)?.status === 'True' && d.status.observedGeneration === d.metadata.generation && d;
    }, 90_000);

  beforeAll(async () => {
    ns = await createNamespace('e2e-database');
    operator = startOperator(['--namespace', ns, 'database']);
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
  });

  it('mongo gives a mongo Pod and a NodePort Service on 27017 that selects only that Pod, with the seed message', async () => {
    await applyObjects(db(ns, 'm1', { type: 'mongo' }), db(ns, 'm2', { type: 'mongo' }));
    const m1 = await ready('m1');
    await ready('m2');
    expect(m1.status.database.message).toBe('Pod and Service created by Database m1');
    expect(m1.status.database.kubectl).toMatch(/pod\/m1-mongo serverside-applied/);
    const pod = await getJson(['pod', 'm1-mongo', '-n', ns]);
    expect(pod.spec.containers[0].image).toBe('mongo:4.0');
    const svc = await getJson(['service', 'm1', '-n', ns]);
    expect(svc.spec.type).toBe('NodePort');
    expect(svc.spec.ports[0].port).toBe(27017);
    expect(m1.status.database.nodePort).toBe(svc.spec.ports[0].nodePort);
    const selector = Object.entries(svc.spec.selector as Record<string, string>).map(([key, v]) => `${key}=${v}`).join(',');
    const selected = await getJson<{ items: any[] }>(['pods', '-n', ns, '-l', selector]);
    expect(selected!.items.map((p) => p.metadata.name)).toEqual(['m1-mongo']);
  });

  it('mysql reads MYSQL_ROOT_PASSWORD from a generated Secret, and the password shows nowhere else', async () => {
    await applyObjects(db(ns, 'my', { type: 'mysql' }));
    const my = await ready('my');
    // Named after the object's uid too, so a new Database of the same name never reads an older one's Secret.
    const secretName = `my-mysql-root-${my.metadata.uid.slice(0, 8)}`;
    const pod = await getJson(['pod', 'my-mysql', '-n', ns]);
    expect(pod.spec.containers[0].image).toBe('mysql:8.0');
    expect(pod.spec.containers[0].env).toEqual([{ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: secretName, key: 'password' } } }]);
    const secret = await getJson(['secret', secretName, '-n', ns]);
    const password = Buffer.from(secret.data.password, 'base64').toString();
    expect(password.length).toBeGreaterThanOrEqual(24);
    expect(secret.metadata.ownerReferences[0]).toMatchObject({ kind: 'Database', name: 'my', uid: my.metadata.uid });
    const events = await getJson(['events', '-n', ns]);
    const places: Array<[string, string]> = [['the Database', JSON.stringify(my)], ['the operator logs', operator.logs()], ['the Events', JSON.stringify(events)]];
    for (const [where, text] of places) {
      expect(text.includes(password), `password found in ${where}`).toBe(false);
    }
    // Generated once: a re-apply keeps the same password.
    await k(['annotate', 'database', 'my', '-n', ns, 'touch=1']);
    await waitFor('update handled', async () => (await getJson<{ items: unknown[] }>(['events', '-n', ns, '--field-selector', 'involvedObject.name=my,reason=Updated']))!.items.length > 0);
    const again = await getJson(['secret', secretName, '-n', ns]);
    expect(Buffer.from(again.data.password, 'base64').toString()).toBe(password);
  });

  it('mongo → mysql replaces the mongo Pod with a mysql one and prunes what is stale', async () => {
    await k(['patch', 'database', 'm2', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { type: 'mysql' } })]);
    await waitFor('mysql Pod', async () => (await getJson(['pod', 'm2-mysql', '-n', ns]))?.status?.phase === 'Running');
    await waitFor('mongo Pod gone', async () => (await getJson(['pod', 'm2-mongo', '-n', ns])) === undefined);
    const svc = await getJson(['service', 'm2', '-n', ns]);
    expect(svc.spec.ports.map((p: any) => p.port)).toEqual([3306]);
    expect(await getJson(['pod', 'm1-mongo', '-n', ns])).toBeDefined();
  });

  it('delete removes the Pod, the Service and the Secret, and leaves other Databases alone', async () => {
    const secretName = `my-mysql-root-${(await getJson(['database', 'my', '-n', ns])).metadata.uid.slice(0, 8)}`;
    expect(await getJson(['secret', secretName, '-n', ns])).toBeDefined();
    await k(['delete', 'database', 'my', '-n', ns, '--timeout=90s']);
    for (const what of [['pod', 'my-mysql'], ['service', 'my'], ['secret', secretName]]) {
      await waitFor(`${what.join('/')} gone`, async () => (await getJson([...what, '-n', ns])) === undefined, 90_000);
    }
    expect(await getJson(['pod', 'm1-mongo', '-n', ns])).toBeDefined();
    expect(readyCondition(await getJson(['database', 'm1', '-n', ns])).status).toBe('True');
  });
});

describe('Database with a type the schema did not stop', () => {
  let ns: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    ns = await createNamespace('e2e-dbtype');
    // An older CRD without the enum, as in the seed: the API server then accepts any type.
    const crd = await getJson(['crd', 'databases.zalando.org']);
    delete crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.type.enum;
    delete crd.metadata.resourceVersion;
    await k(['replace', '-f', '-'], { input: JSON.stringify(crd) });
    operator = startOperator(['--namespace', ns, 'database']);
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
    await k(['apply', '--server-side', '--force-conflicts', '-f', 'crds/databases.zalando.org.yaml']);
  });

  it('gets Ready=False with a clear message and one Event, and no retry loop', async () => {
    await applyObjects(db(ns, 'pg', { type: 'postgres' }));
    const bad = await waitFor('Ready=False', async () => {
      const d = await getJson(['database', 'pg', '-n', ns]);
      return readyCondition(d)?.status === 'False' && d;
    });
    expect(readyCondition(bad)).toMatchObject({ reason: 'InvalidSpec', message: 'spec.type must be one of mongo, mysql, got "postgres"' });
    expect(bad.status.conditions.find((c: any) => c.type === 'Stalled').status).toBe('True');
    await new Promise((r) => setTimeout(r, 4_000));
    const events = await getJson<{ items: any[] }>(['events', '-n', ns, '--field-selector', 'involvedObject.name=pg,reason=InvalidSpec']);
    expect(events!.items).toHaveLength(1);
    expect(events!.items[0].type).toBe('Warning');
    expect(await getJson<{ items: any[] }>(['pods', '-n', ns]).then((l) => l!.items)).toEqual([]);
    expect((operator.logs().match(/"reason":"InvalidSpec"/g) ?? []).length).toBe(1);
  });
});
