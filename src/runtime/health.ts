// Why: /healthz, /readyz and /metrics over plain HTTP, for kubelet probes and Prometheus.
import { http } from '../kube/node-http.ts';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.ts';

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `/healthz` (the process is alive and not stopping), `/readyz` (`ready()` says so) and `/metrics`.
 * Port 0 picks a free port; the chosen one is returned.
 */
export async function startHealthServer(opts: { port: number; host: string; metrics: Metrics; live: () => boolean; ready: () => boolean }): Promise<HealthServer> {
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return reply(405, 'method not allowed\n');
    if (path === '/healthz') return opts.live() ? reply(200, 'ok\n') : reply(503, 'stopping\n');
    if (path === '/readyz') return opts.ready() ? reply(200, 'ok\n') : reply(503, 'not ready\n');
    if (path === '/metrics') return reply(200, await opts.metrics.registry.metrics(), opts.metrics.registry.contentType);
    return reply(404, 'not found: try /healthz, /readyz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`health port ${opts.port} on ${opts.host} is in use; choose another with --health-port (0 picks a free one)`)
          : err,
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
