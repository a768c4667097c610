// The operator's connections to the real API server during a burst: its requests share a bounded pool, so a slow API
// server sees a fixed number of connections from it, not one per reconcile in flight. The test puts a TCP proxy of
// its own between the operator and the API server: the proxy counts the connections, and holds every answer back a
// while, as a loaded API server would, so requests pile up.
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { REQUEST_CONNECTIONS } from '../../src/kube/credentials.ts';
import { KUBECTL, applyObjects, createNamespace, deleteNamespace, getJson, kubeconfig, startOperator, waitFor, type OperatorProcess } from './helpers.ts';

const SLOW_KUBECTL = path.resolve('test/e2e/fixtures/slow-kubectl.mjs');
/** How long the proxy holds each answer of the API server back (ms). */
const HOLD_MS = 400;
/** The operator's watches: its Samples, and their Deployments. They have connections of their own. */
const WATCHES = 2;

/**
 * A TCP proxy to `target` that counts its open connections, and delays what comes back by `hold()` ms. What comes
 * back on one connection keeps its order (a TLS stream with a chunk out of place is broken), also when `hold()`
 * changes: nothing is passed on before what came before it.
 */
async function countingProxy(target: { host: string; port: number }, hold: () => number) {
  let open = 0;
  let most = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open++;
    most = Math.max(most, open);
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    // When the last thing scheduled on this connection is passed on (ms since the epoch).
    let due = 0;
    const later = (fn: () => void) => {
      due = Math.max(Date.now() + hold(), due);
      // Never negative: the clock may tick between the two reads, and node warns of a negative delay.
      setTimeout(fn, Math.max(0, due - Date.now()));
    };
    upstream.on('data', (chunk: Buffer) => later(() => client.writable && client.write(chunk)));
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      open--;
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    // The API server's end (or failure) reaches the operator after what it sent before it.
    upstream.on('close', () => later(close)).on('error', () => later(close));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    open: () => open,
    most: () => most,
    reset: () => (most = open),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('connections to the API server', () => {
  let ns: string | undefined;
  let dir: string | undefined;
  let operator: OperatorProcess | undefined;
  let proxy: Awaited<ReturnType<typeof countingProxy>> | undefined;
  let holdMs = 0;

  beforeAll(async () => {
    ns = await createNamespace('e2e-conn');
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'e2e-conn-'));
    const config = parse(await fs.readFile(kubeconfig(), 'utf8'));
    const server = new URL(config.clusters[0].cluster.server as string);
    proxy = await countingProxy({ host: server.hostname, port: Number(server.port) }, () => holdMs);
    // The same cluster and credentials through the proxy; the API server's certificate names 127.0.0.1, not a port.
    config.clusters[0].cluster.server = `https://127.0.0.1:${proxy.port}`;
    const proxied = path.join(dir, 'kubeconfig');
    await fs.writeFile(proxied, stringify(config));
    // kubectl goes straight to the API server: only the operator's own connections pass the proxy.
    const started = startOperator(['--namespace', ns, '--kubectl', SLOW_KUBECTL, 'sample'], {
      KUBECONFIG: proxied,
      REAL_KUBECTL: KUBECTL,
      SLOW_KUBECTL_MS: '0',
      KUBECTL_KUBECONFIG: kubeconfig(),
    });
    operator = started;
    await waitFor('the operator watching', async () => started.logs().includes('listed; watching'), 60_000);
  });
  afterAll(async () => {
    holdMs = 0;
    // With the operator still running: it removes its finalizers from the Samples.
    if (ns) await deleteNamespace(ns);
    await operator?.stop();
    await proxy?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it(`opens at most ${REQUEST_CONNECTIONS} connections for requests while a slow API server keeps 100 reconciles waiting, and every Sample is applied`, async () => {
    const [namespace, counter] = [ns!, proxy!];
    holdMs = HOLD_MS;
    counter.reset();
    const names = Array.from({ length: 100 }, (_, i) => `c-${i}`);
    await applyObjects(...names.map((name) => ({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name, namespace }, spec: { count: 1 } })));
    await waitFor('every Sample applied', async () => {
      const list = await getJson<{ items: any[] }>(['samples', '-n', namespace]);
      return list!.items.filter((s) => s.status?.sample?.message).length === names.length;
    }, 180_000);
    // The burst wanted more connections than the pool has (64 reconciles at once, each waiting on a request), so the
    // pool was full, beside both watches: the pool is what bounded them. Without the bound, every reconcile in
    // flight had a connection of its own.
    expect(counter.most()).toBe(REQUEST_CONNECTIONS + WATCHES);
  });
});
