import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { connect, ConnectionError } from '../../src/kube/config.ts';
import { removeLeftoverWorkdirs } from '../../src/kustomize/workdir.ts';
import { startHealthServer } from '../../src/runtime/health.ts';
import { Metrics } from '../../src/runtime/metrics.ts';
import { namespaceScope } from '../../src/runtime/namespaces.ts';

describe('namespace scope', () => {
  it('watches plain names one by one', () => {
    const s = namespaceScope(['a', 'b', 'a']);
    expect(s.watch).toEqual(['a', 'b']);
    expect(s.accepts('a')).toBe(true);
    expect(s.accepts('c')).toBe(false);
  });
  it('watches cluster-wide for globs and exclusions, and filters', () => {
    const s = namespaceScope(['team-*', '!team-secret']);
    expect(s.watch).toEqual([]);
    expect(['team-a', 'team-secret', 'other'].filter((n) => s.accepts(n))).toEqual(['team-a']);
    const only = namespaceScope(['!kube-*']);
    expect(['default', 'kube-system'].filter((n) => only.accepts(n))).toEqual(['default']);
  });
  it('rejects what cannot be a namespace', () => {
    expect(() => namespaceScope(['Bad_Name'])).toThrow(/not a namespace/);
  });
});

describe('leftover work dirs', () => {
  it("removes dead processes' folders, keeps live ones', and its own only when asked", async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-left-'));
    const dead = 'kustomate-999999999-abc';
    const mine = `kustomate-${process.pid}-xyz`;
    const live = `kustomate-1-live`; // pid 1 is alive
    for (const d of [dead, mine, live, 'other-folder']) await fs.mkdir(path.join(tmp, d));
    expect(await removeLeftoverWorkdirs({ tmpdir: tmp })).toEqual([dead]);
    expect(await removeLeftoverWorkdirs({ tmpdir: tmp, includeOwn: true })).toEqual([mine]);
    expect((await fs.readdir(tmp)).sort()).toEqual([live, 'other-folder'].sort());
    await fs.rm(tmp, { recursive: true, force: true });
  });
});

describe('health server', () => {
  it('answers /healthz, /readyz and /metrics, and says when it is not ready', async () => {
    const metrics = new Metrics();
    metrics.reconciles.inc({ operator: 'x', result: 'ok' });
    let ready = false;
    const server = await startHealthServer({ port: 0, host: '127.0.0.1', metrics, live: () => true, ready: () => ready });
    const get = (p: string) => fetch(`http://127.0.0.1:${server.port}${p}`);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(503);
    ready = true;
    expect((await get('/readyz')).status).toBe(200);
    expect(await (await get('/metrics')).text()).toContain('kustomate_reconciles_total{operator="x",result="ok"} 1');
    expect((await get('/nope')).status).toBe(404);
    await expect(startHealthServer({ port: server.port, host: '127.0.0.1', metrics, live: () => true, ready: () => true })).rejects.toThrow(/in use; choose another with --health-port/);
    await server.close();
  });

  it('counts kubectl runs by verb, skipping the global arguments', () => {
    const metrics = new Metrics();
    metrics.kubectl({ command: ['kubectl', '--context', 'c', 'apply', '-k', 'd'], exitCode: 0, stdout: '', stderr: '', durationMs: 5, timedOut: false }, 2);
    metrics.kubectl({ command: ['kubectl', '--context', 'c', 'delete', '-k', 'd'], exitCode: 1, stdout: '', stderr: '', durationMs: 5, timedOut: false }, 2);
    const text = metrics.registry.metrics();
    expect(text).toContain('kustomate_kubectl_runs_total{verb="apply",result="ok"} 1');
    expect(text).toContain('kustomate_kubectl_runs_total{verb="delete",result="error"} 1');
    expect(text).toContain('kustomate_kubectl_duration_seconds_bucket{verb="apply",le="0.1"} 1');
    expect(text).toContain('kustomate_kubectl_duration_seconds_count{verb="apply"} 1');
    expect(text).toContain('# TYPE kustomate_kubectl_runs_total counter');
  });
});

describe('connection', () => {
  async function kubeconfigFile(contexts: string[]) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-kc-'));
    const file = path.join(dir, 'config');
    await fs.writeFile(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: contexts.map((name) => ({ name, context: { cluster: 'c', user: 'u' } })),
        'current-context': contexts[0],
      }),
    );
    return file;
  }

  it('gives kubectl the same files and an explicit context', async () => {
    const file = await kubeconfigFile(['one', 'two']);
    const c = connect({ kubeconfig: file, context: 'two' }, {});
    expect(c.kubectlArgs).toEqual(['--context', 'two']);
    expect(c.kubectlEnv).toEqual({ KUBECONFIG: file });
    expect(c.context).toBe('two');
    expect(c.access.server).toBe('https://127.0.0.1:6443');
    expect(await c.access.headers()).toEqual({ authorization: 'Bearer t' });
  });

  it('says clearly when there is no kubeconfig, a missing file or an unknown context', async () => {
    expect(() => connect({}, { HOME: '/nonexistent' })).toThrow(ConnectionError);
    expect(() => connect({}, { HOME: '/nonexistent' })).toThrow(/no kubeconfig found.*cluster:up/);
    expect(() => connect({ kubeconfig: '/nonexistent/config' }, {})).toThrow(/does not exist/);
    const file = await kubeconfigFile(['one']);
    expect(() => connect({ kubeconfig: file, context: 'nope' }, {})).toThrow(/context "nope" is not in .* \(known: one\)/);
    expect(() => connect({}, { KUBECONFIG: '/nope/a:/nope/b' })).toThrow(/names no existing file/);
  });
});
