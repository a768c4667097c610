// The local control plane itself: real components, real controllers, real RBAC, loopback only.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_NAME, KWOK_WORKDIR } from '../../lab/cluster/versions.ts';
import { applyObjects, createNamespace, deleteNamespace, getJson, k, KUBECTL, testCrd, tokenKubeconfig, waitFor } from './helpers.ts';

let ns: string;
beforeAll(async () => {
  ns = await createNamespace('e2e-cluster');
});
afterAll(async () => deleteNamespace(ns));

describe('local control plane', () => {
  it('lists Ready kwok nodes', async () => {
    const nodes = await getJson<{ items: any[] }>(['nodes']);
    const ready = nodes!.items.filter((n) => n.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True'));
    expect(ready.length).toBeGreaterThanOrEqual(3);
    for (const n of ready) expect(n.metadata.annotations?.['kwok.x-k8s.io/node']).toBe('fake');
  });

  it("schedules a Deployment's pods and they become Running", async () => {
    await applyObjects({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } },
      },
    });
    const pods = await waitFor('2 Running pods', async () => {
      const list = await getJson<{ items: any[] }>(['pods', '-n', ns, '-l', 'app=web']);
      const running = list!.items.filter((p) => p.status.phase === 'Running' && p.spec.nodeName);
      return running.length === 2 && running;
    });
    expect(pods.every((p: any) => p.spec.nodeName)).toBe(true);
  });

  it("runs a Job's pod to Succeeded and the Job to Complete, through kwok's pod stages", async () => {
    await applyObjects({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'once', namespace: ns },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', command: ['true'] }] } } },
    });
    const job = await waitFor('Job Complete', async () => {
      const j = await getJson(['job', 'once', '-n', ns]);
      return j?.status?.conditions?.some((c: any) => c.type === 'Complete' && c.status === 'True') && j;
    }, 120_000);
    expect(job.status.succeeded).toBe(1);
    const pods = await getJson<{ items: any[] }>(['pods', '-n', ns, '-l', 'job-name=once']);
    expect(pods!.items.map((p) => p.status.phase)).toContain('Succeeded');
  });

  it("removes an owner's dependents through the garbage collector", async () => {
    await applyObjects({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: ns } });
    const owner = await getJson(['configmap', 'owner', '-n', ns]);
    await applyObjects({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'dependent', namespace: ns, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid }] },
    });
    await k(['delete', 'configmap', 'owner', '-n', ns]);
    await waitFor('dependent deleted', async () => (await getJson(['configmap', 'dependent', '-n', ns])) === undefined, 90_000);
  });

  it('enforces RBAC: a ServiceAccount token with no rights gets 403 Forbidden', async () => {
    await k(['create', 'serviceaccount', 'nobody', '-n', ns]);
    const token = (await k(['create', 'token', 'nobody', '-n', ns])).stdout.trim();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-rbac-'));
    const file = await tokenKubeconfig(token, dir, 'nobody');
    const denied = await execa(KUBECTL, ['--kubeconfig', file, 'get', 'pods', '-n', ns], { reject: false, timeout: 30_000 });
    await fs.rm(dir, { recursive: true, force: true });
    expect(denied.exitCode).not.toBe(0);
    expect(denied.stderr).toMatch(/Forbidden/);
    expect(denied.stderr).toContain(`system:serviceaccount:${ns}:nobody`);
  });

  it('serves a new CRD, its instances and their status subresource', async () => {
    const crd = testCrd('e2e.kustomate.io', 'Widget', 'widgets', {
      spec: { type: 'object', properties: { size: { type: 'integer' } } },
      status: { type: 'object', properties: { phase: { type: 'string' } } },
    });
    await applyObjects(crd);
    await k(['wait', '--for=condition=Established', 'crd/widgets.e2e.kustomate.io', '--timeout=60s']);
    await applyObjects({ apiVersion: 'e2e.kustomate.io/v1', kind: 'Widget', metadata: { name: 'w', namespace: ns }, spec: { size: 1 } });
    await k(['patch', 'widget', 'w', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Done' } })]);
    // A write to the main resource ignores status: the status subresource owns it.
    await k(['patch', 'widget', 'w', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { size: 2 }, status: { phase: 'Ignored' } })]);
    const w = await getJson(['widget', 'w', '-n', ns]);
    expect(w.spec.size).toBe(2);
    expect(w.status.phase).toBe('Done');
    await k(['delete', 'crd', 'widgets.e2e.kustomate.io']);
  });

  it('listens on 127.0.0.1 only, in every process it started', async () => {
    const pidDir = path.join(KWOK_WORKDIR, 'clusters', CLUSTER_NAME, 'pids');
    const pids = (await fs.readdir(pidDir)).map(async (f) => Number((await fs.readFile(path.join(pidDir, f), 'utf8')).trim()));
    const inodes = new Set<string>();
    for (const pid of await Promise.all(pids)) {
      for (const fd of await fs.readdir(`/proc/${pid}/fd`).catch(() => [])) {
        const target = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (m) inodes.add(m[1]!);
      }
    }
    const listening: string[] = [];
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      const rows = (await fs.readFile(file, 'utf8')).trim().split('\n').slice(1);
      for (const row of rows) {
        const cols = row.trim().split(/\s+/);
        // cols: sl local_address rem_address st ... inode (index 9); st 0A is LISTEN.
        if (cols[3] === '0A' && inodes.has(cols[9]!)) listening.push(cols[1]!);
      }
    }
    expect(listening.length).toBeGreaterThanOrEqual(4);
    const loopback = (addr: string) =>
      addr.startsWith('0100007F:') || addr.startsWith('0000000000000000FFFF00000100007F:') || addr.startsWith('00000000000000000000000001000000:');
    expect(listening.filter((a) => !loopback(a))).toEqual([]);
  });
});
