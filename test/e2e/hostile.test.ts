// Hostile input on the real control plane: a corpus of bad custom resources (fixtures/bad-input/), and objects of
// other tenants under the names kustomate would use. Nothing a custom resource says may crash the operator, loop,
// create anything over a limit, or touch what is not its own.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, KUBECTL, readyCondition, startOperator, waitFor, type OperatorProcess } from './helpers.ts';

const CORPUS = 'test/e2e/fixtures/bad-input';
const EXPECT = 'bad-input.kustomate.io/expect';
const PLURAL: Record<string, string> = { Sample: 'samples', Database: 'databases', Gordon: 'gordons', MySQL: 'mysqls', DatabaseTable: 'databasetables' };

interface Case {
  file: string;
  kind: string;
  name: string;
  expect: string;
  /** The document as written: sent as it is, never re-serialised. */
  text: string;
  spec: Record<string, any>;
}

async function corpus(): Promise<Case[]> {
  const cases: Case[] = [];
  for (const file of (await fs.readdir(CORPUS)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(await fs.readFile(path.join(CORPUS, file), 'utf8'))) {
      const obj = doc.toJS() as { kind: string; metadata: { name: string; annotations: Record<string, string> }; spec?: Record<string, any> };
      cases.push({ file, kind: obj.kind, name: obj.metadata.name, expect: obj.metadata.annotations[EXPECT]!, text: doc.toString(), spec: obj.spec ?? {} });
    }
  }
  return cases;
}

/** Objects of another tenant, at the names kustomate would give its own: they must come out unchanged. */
const foreign = (ns: string) => [
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'tenant-demo-deploy', namespace: ns, labels: { tenant: 'other' } }, spec: { replicas: 0, selector: { matchLabels: { tenant: 'other' } }, template: { metadata: { labels: { tenant: 'other' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } } },
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'clash-gordon', namespace: ns, labels: { tenant: 'other' } }, spec: { replicas: 0, selector: { matchLabels: { tenant: 'other' } }, template: { metadata: { labels: { tenant: 'other' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'victim', namespace: ns }, spec: { ports: [{ port: 80 }], selector: { tenant: 'other' } } },
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'victim-mysql-root', namespace: ns }, stringData: { password: 'not-yours' } },
];

/** Marks the volumes made for the corpus, so they go with the test. */
const SUPPORT_LABEL = 'e2e.kustomate.io/hostile';

/**
 * What the corpus's at-limit cases name, so they can end Ready as every other at-limit case does: the Secrets
 * (a MySQL's passwordSecretRef, a DatabaseTable's connectionSecretRef, the local PostgreSQL's URL), and for a
 * MySQL with a storageClassName a volume of that class for each of its claims, reserved for it by claimRef.
 */
function supports(ns: string, cases: Case[], databaseUrl: string): object[] {
  const secrets = new Map<string, Record<string, string>>();
  const volumes: object[] = [];
  const secret = (name: string, key: string, value: string) => secrets.set(name, { ...secrets.get(name), [key]: value });
  for (const c of cases.filter((c) => c.expect === 'ready')) {
    if (c.kind === 'MySQL' && c.spec.passwordSecretRef) secret(c.spec.passwordSecretRef.name, c.spec.passwordSecretRef.key ?? 'password', 'at-limit-password');
    if (c.kind === 'DatabaseTable' && c.spec.connectionSecretRef) secret(c.spec.connectionSecretRef.name, c.spec.connectionSecretRef.key ?? 'url', databaseUrl);
    if (c.kind === 'MySQL' && c.spec.storageClassName) {
      for (const claim of [`${c.name}-pvc`, `backup-${c.name}-pvc`]) {
        volumes.push({
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: `${ns}-${claim}`, labels: { [SUPPORT_LABEL]: ns } },
          spec: {
            storageClassName: c.spec.storageClassName,
            capacity: { storage: c.spec.storage_size },
            accessModes: ['ReadWriteOnce'],
            hostPath: { path: `/var/lib/kustomate-e2e/${ns}/${claim}` },
            claimRef: { namespace: ns, name: claim },
          },
        });
      }
    }
  }
  return [...[...secrets].map(([name, stringData]) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData })), ...volumes];
}

describe('hostile input', () => {
  let ns: string;
  let dir: string;
  let operator: OperatorProcess;
  const journal = async () =>
    (await fs.readFile(path.join(dir, 'journal.jsonl'), 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; names: string[]; verb: string });
  const versions = async (ns: string) =>
    Promise.all(foreign(ns).map(async (o) => `${o.kind}/${o.metadata.name}@${(await getJson([o.kind.toLowerCase(), o.metadata.name, '-n', ns]))?.metadata.resourceVersion}`));

  beforeAll(async () => {
    ns = await createNamespace('e2e-hostile');
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-hostile-'));
    await fs.writeFile(path.join(dir, 'rules.json'), '[]');
    await applyObjects(...foreign(ns), ...supports(ns, await corpus(), inject('databaseUrl')));
    operator = startOperator(['--namespace', ns, '--kubectl', path.resolve('test/e2e/fixtures/fault-kubectl.mjs'), 'sample', 'database', 'gordon', 'mysql', 'databasetable'], {
      REAL_KUBECTL: KUBECTL,
      FAULT_RULES: path.join(dir, 'rules.json'),
      FAULT_JOURNAL: path.join(dir, 'journal.jsonl'),
      DATABASE_URL: inject('databaseUrl'),
    });
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await operator.stop();
    await k(['delete', 'persistentvolumes', '-l', `${SUPPORT_LABEL}=${ns}`, '--ignore-not-found', '--wait=false'], { reject: false });
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('meets every custom resource of the bad-input corpus with a clear refusal: no crash, no loop, nothing over a limit, nothing foreign touched', async () => {
    const cases = await corpus();
    const bad = cases.filter((c) => c.expect !== 'ready');
    expect(bad.length).toBeGreaterThanOrEqual(60);
    const before = await versions(ns);
    const wrong: string[] = [];
    const accepted: Case[] = [];
    for (const c of cases) {
      const r = await k(['apply', '-n', ns, '-f', '-'], { input: c.text, reject: false });
      const [what, detail = ''] = c.expect.split(/:\s*/, 2) as [string, string?];
      if (what === 'rejected') {
        if (r.exitCode === 0 || !r.stderr.includes(detail)) wrong.push(`${c.file} ${c.name}: expected the API server to refuse it naming ${detail}; got ${r.exitCode === 0 ? 'accepted' : r.stderr.trim()}`);
      } else if (r.exitCode !== 0) wrong.push(`${c.file} ${c.name}: refused by the API server: ${r.stderr.trim()}`);
      else accepted.push(c);
    }
    for (const c of accepted) {
      const [what, detail = ''] = c.expect.split(/:\s*/, 2) as [string, string?];
      const reason = what === 'ready' ? 'True' : what === 'notowned' ? 'NotOwned' : 'InvalidSpec';
      try {
        const o = await waitFor(`${c.kind} ${c.name} to settle as ${c.expect}`, async () => {
          const got = await getJson([PLURAL[c.kind]!, c.name, '-n', ns]);
          const ready = readyCondition(got);
          return (what === 'ready' ? ready?.status === 'True' : ready?.reason === reason) && got;
        }, 60_000);
        if (what !== 'ready' && !readyCondition(o).message.includes(detail.replace('NS/', `${ns}/`))) wrong.push(`${c.kind} ${c.name}: the Ready message does not name ${detail}: ${readyCondition(o).message}`);
      } catch (err) {
        wrong.push((err as Error).message);
      }
    }
    // Settled: now nothing may run again on its own (no hot retry loop).
    const runs = await journal();
    await new Promise((r) => setTimeout(r, 10_000));
    const later = await journal();
    expect(later.length, 'kubectl runs after the corpus settled').toBe(runs.length);
    for (const c of accepted.filter((c) => c.expect !== 'ready')) {
      const mine = later.filter((r) => r.event === 'start' && r.names.includes(c.name));
      if (mine.length > 1) wrong.push(`${c.kind} ${c.name}: ${mine.length} kubectl runs (${mine.map((r) => r.verb).join(', ')})`);
      if (mine.some((r) => r.verb === 'apply')) wrong.push(`${c.kind} ${c.name}: applied although refused`);
    }
    expect(wrong).toEqual([]);
    expect(operator.exited()).toBe(false);
    const deployments = await getJson<{ items: any[] }>(['deployments', '-n', ns]);
    expect(deployments!.items.filter((d) => d.spec.replicas > 100)).toEqual([]);
    expect(await versions(ns)).toEqual(before);
    process.stdout.write(`bad-input corpus: ${bad.length} bad custom resources (${bad.length - accepted.filter((c) => c.expect !== 'ready').length} refused by the API server, ${accepted.filter((c) => c.expect !== 'ready').length} Ready=False), and ${cases.length - bad.length} at the limits Ready\n`);

    // Deleting them leaves every foreign object as it was too.
    for (const c of accepted) await k(['delete', PLURAL[c.kind]!, c.name, '-n', ns, '--timeout=60s']);
    expect(await versions(ns)).toEqual(before);
  });

  it("leaves another tenant's Service unchanged, byte for byte, through a Database of the same name, which says NotOwned, and its deletion", async () => {
    const other = await createNamespace('e2e-tenant');
    const watcher = startOperator(['--namespace', other, 'database']);
    try {
      await applyObjects(...foreign(other).filter((o) => o.kind === 'Service'));
      const before = await getJson(['service/victim', '-n', other]);
      await applyObjects({ apiVersion: 'zalando.org/v1', kind: 'Database', metadata: { name: 'victim', namespace: other }, spec: { type: 'mysql' } });
      const refused = await waitFor('NotOwned', async () => {
        const d = await getJson(['database', 'victim', '-n', other]);
        return readyCondition(d)?.reason === 'NotOwned' && d;
      });
      expect(readyCondition(refused).message).toBe(`database: Service ${other}/victim already exists and is not this Database's; left untouched`);
      const events = await getJson<{ items: any[] }>(['events', '-n', other, '--field-selector', 'involvedObject.name=victim,reason=NotOwned']);
      expect(events!.items.length).toBeGreaterThanOrEqual(1);
      // Nothing was made for it: no Pod, no root password Secret.
      expect(await getJson(['pod', 'victim-mysql', '-n', other])).toBeUndefined();
      expect((await getJson<{ items: any[] }>(['secrets', '-n', other]))!.items).toEqual([]);
      await k(['delete', 'database', 'victim', '-n', other, '--timeout=60s']);
      expect(await getJson(['service/victim', '-n', other])).toEqual(before);
    } finally {
      await deleteNamespace(other);
      await watcher.stop();
    }
  });

  it("gives a Database a root password Secret of its own, named with its uid, and leaves another tenant's Secret named <name>-mysql-root unchanged, byte for byte, through the Database's life", async () => {
    const other = await createNamespace('e2e-tenant');
    const watcher = startOperator(['--namespace', other, 'database']);
    try {
      // The name a Database's root password Secret once had: <name>-mysql-root.
      await applyObjects({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'lookalike-mysql-root', namespace: other }, stringData: { password: 'not-yours' } });
      const before = await getJson(['secret/lookalike-mysql-root', '-n', other]);
      await applyObjects({ apiVersion: 'zalando.org/v1', kind: 'Database', metadata: { name: 'lookalike', namespace: other }, spec: { type: 'mysql' } });
      const db = await waitFor('Database lookalike Ready', async () => {
        const d = await getJson(['database', 'lookalike', '-n', other]);
        return readyCondition(d)?.status === 'True' && d;
      });
      const own = `lookalike-mysql-root-${db.metadata.uid.slice(0, 8)}`;
      const env = (await getJson(['pod', 'lookalike-mysql', '-n', other])).spec.containers[0].env;
      expect(env.find((e: any) => e.name === 'MYSQL_ROOT_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: own, key: 'password' });
      const secret = await getJson(['secret', own, '-n', other]);
      expect(secret.metadata.ownerReferences.map((r: any) => r.uid)).toEqual([db.metadata.uid]);
      expect(Buffer.from(secret.data.password, 'base64').toString()).not.toBe('not-yours');
      expect(await getJson(['secret/lookalike-mysql-root', '-n', other])).toEqual(before);
      await k(['delete', 'database', 'lookalike', '-n', other, '--timeout=60s']);
      // Its own Secret goes with it (the garbage collector follows the ownerReference); the other tenant's stays.
      await waitFor(`Secret ${own} gone`, async () => !(await getJson(['secret', own, '-n', other])));
      expect(await getJson(['secret/lookalike-mysql-root', '-n', other])).toEqual(before);
    } finally {
      await deleteNamespace(other);
      await watcher.stop();
    }
  });
});
