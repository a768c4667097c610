import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApi } from '../../src/kube/api.ts';
import { REQUEST_CONNECTIONS, clusterAccess } from '../../src/kube/credentials.ts';

/** A server that holds every request open until `release()`, counting the connections open at once. */
async function holdingServer() {
  const held: http.ServerResponse[] = [];
  let open = 0;
  let most = 0;
  const server = http.createServer((req, res) => {
    if (req.url?.includes('watch=1')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('');
      return; // a watch: stays open until the server closes
    }
    held.push(res);
  });
  server.on('connection', (socket) => {
    most = Math.max(most, ++open);
    socket.on('close', () => open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    held,
    most: () => most,
    release: () => held.splice(0).forEach((r) => r.end('{}')),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe('API connections', () => {
  it(`sends at most ${REQUEST_CONNECTIONS} requests at once; the rest wait for a free connection`, async () => {
    const server = await holdingServer();
    stop = server.close;
    const api = new KubeApi(clusterAccess({ server: server.url }, {}));
    const all = Promise.all(Array.from({ length: 100 }, (_, i) => api.request('GET', `/api/v1/namespaces/n${i}`)));
    await until(() => server.held.length === REQUEST_CONNECTIONS);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.held.length).toBe(REQUEST_CONNECTIONS);
    // Released in rounds: each round frees connections for the next requests, and every request gets its answer.
    while ((await Promise.race([all.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))])) === false) server.release();
    expect((await all).length).toBe(100);
    expect(server.most()).toBe(REQUEST_CONNECTIONS);
  });

  it('answers a request while more watches than that are open', async () => {
    const server = await holdingServer();
    stop = server.close;
    const api = new KubeApi(clusterAccess({ server: server.url }, {}));
    const watches = await Promise.all(Array.from({ length: REQUEST_CONNECTIONS + 8 }, (_, i) => api.stream(`/api/v1/namespaces/n${i}/configmaps`, { query: { watch: 1 } })));
    // Read to their end (the server closing them) as the watcher does.
    const ended = watches.map(async (lines) => {
      try {
        for await (const _ of lines);
      } catch {
        // closed by the server at the end of the test
      }
    });
    expect(ended).toHaveLength(REQUEST_CONNECTIONS + 8);
    const answer = api.request('GET', '/api/v1/namespaces/default');
    await until(() => server.held.length === 1);
    server.release();
    expect(await answer).toEqual({});
  });

  it('gives up on a request that gets no answer within its timeout, and answers the next one', async () => {
    const server = await holdingServer();
    stop = server.close;
    const api = new KubeApi(clusterAccess({ server: server.url }, {}));
    const started = performance.now();
    await expect(api.request('GET', '/api/v1/namespaces/slow', { timeoutMs: 150 })).rejects.toThrow(/timed out|timeout/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    const next = api.request('GET', '/api/v1/namespaces/default', { timeoutMs: 5_000 });
    await until(() => server.held.length === 2);
    server.release();
    expect(await next).toEqual({});
  });

  it('gives up at once on a request still waiting for a connection when its signal aborts or its timeout is up', async () => {
    const server = await holdingServer();
    stop = server.close;
    const api = new KubeApi(clusterAccess({ server: server.url }, {}));
    const busy = Array.from({ length: REQUEST_CONNECTIONS }, (_, i) => api.request('GET', `/api/v1/namespaces/busy${i}`).catch(() => undefined));
    await until(() => server.held.length === REQUEST_CONNECTIONS);
    const cancel = new AbortController();
    const cancelled = api.request('GET', '/api/v1/namespaces/cancelled', { signal: cancel.signal });
    const started = performance.now();
    const timedOut = api.request('GET', '/api/v1/namespaces/late', { timeoutMs: 200 });
    cancel.abort(new Error('shutting down'));
    const [gone, late] = await Promise.allSettled([cancelled, timedOut]);
    expect(gone.status).toBe('rejected');
    expect(late).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/timed out|timeout/) } });
    expect(performance.now() - started).toBeLessThan(5_000);
    // Neither took a connection: the held ones are all still the first requests.
    expect(server.held).toHaveLength(REQUEST_CONNECTIONS);
    server.release();
    await Promise.all(busy);
  });

  it('sends an urgent request (the leader\'s Lease) on a connection of its own while every shared one is busy', async () => {
    const server = await holdingServer();
    stop = server.close;
    const api = new KubeApi(clusterAccess({ server: server.url }, {}));
    const busy = Array.from({ length: REQUEST_CONNECTIONS + 10 }, (_, i) => api.request('GET', `/api/v1/namespaces/busy${i}`));
    await until(() => server.held.length === REQUEST_CONNECTIONS);
    const lease = api.request('GET', '/apis/coordination.k8s.io/v1/namespaces/ns/leases/l', { urgent: true });
    await until(() => server.held.length === REQUEST_CONNECTIONS + 1);
    server.held.pop()!.end('{"kind":"Lease"}');
    expect(await lease).toEqual({ kind: 'Lease' });
    // Released until every request has its answer; each wait's timer is cleared, so none outlives the test.
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = await Promise.race([Promise.all(busy).then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), 20)))]);
      clearTimeout(timer);
      if (done) break;
      server.release();
    }
  });


  it('leaves no timer behind once a request has its answer', async () => {
    const server = await holdingServer();
    stop = server.close;
    const api = new KubeApi(clusterAccess({ server: server.url }, {}));
    // Counted across the whole process: a timer of an earlier test's server or socket may end meanwhile, so the
    // count may fall; one left behind by a request would raise it.
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const answers = Array.from({ length: 20 }, (_, i) => api.request('GET', `/api/v1/namespaces/n${i}`, { timeoutMs: 60_000 }));
    await until(() => server.held.length === 20);
    server.release();
    await Promise.all(answers);
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

