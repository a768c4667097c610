// Why: turns a kubeconfig context (or the pod's service account) into what each API request carries.
import fs from 'node:fs';
import type httpTypes from 'node:http';
import { http } from './node-http.ts';
import https from 'node:https';
import path from 'node:path';
import type { ClusterEntry, ExecConfig, UserEntry } from './kubeconfig.ts';

/**
 * What a connection is for: a request that ends soon, a watch that holds its connection for minutes, or an urgent
 * request that must not wait for a free connection (the leader's Lease).
 */
export type ConnectionUse = 'request' | 'watch' | 'urgent';

/**
 * The most connections requests use at once; more wait for a free one. Each TLS connection holds tens of KB in this
 * process and in the API server, and a burst of reconciles would otherwise open one per request in flight. client-go
 * sends everything over one HTTP/2 connection; node's https speaks HTTP/1.1, one request per connection at a time.
 */
export const REQUEST_CONNECTIONS = 32;

/** How requests reach one cluster: its URL, connection pools with the TLS settings, and the auth headers. */
export interface ClusterAccess {
  server: string;
  /**
   * The pool for this use: watches and urgent requests have their own, so however many watches there are and however
   * many requests wait, they still find a connection.
   */
  agent(use?: ConnectionUse): Promise<httpTypes.Agent>;
  headers(): Promise<Record<string, string>>;
  /** The server said 401: credentials from a plugin or a file are fetched again on the next request. */
  invalidate(): void;
}

interface Issued {
  token?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  /** ms since the epoch; undefined: valid until the server refuses it. */
  expires?: number | undefined;
}

const EXEC_TIMEOUT_MS = 60_000;
/** client-go re-reads a token file at most once a minute (bound service account tokens rotate). */
const TOKEN_FILE_TTL_MS = 60_000;

/**
 * Runs a client-go credential plugin and reads its ExecCredential.
 * https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins
 */
async function runExec(exec: ExecConfig): Promise<Issued> {
  const command = exec.command.includes(path.sep) ? path.resolve(exec.dir, exec.command) : exec.command;
  const info = { apiVersion: exec.apiVersion, kind: 'ExecCredential', spec: { interactive: false } };
  // Loaded only for a kubeconfig with an exec plugin.
  const { execa } = await import('execa');
  const r = await execa(command, exec.args, {
    env: { ...exec.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
    timeout: EXEC_TIMEOUT_MS,
    reject: false,
    stdin: 'ignore',
  });
  if (r.exitCode !== 0) throw new Error(`credential plugin ${exec.command} exited ${r.exitCode ?? r.signal}: ${String(r.stderr).slice(0, 500)}`);
  let status: Record<string, unknown>;
  try {
    status = (JSON.parse(String(r.stdout)) as { status?: Record<string, unknown> }).status ?? {};
  } catch {
    throw new Error(`credential plugin ${exec.command} printed no ExecCredential JSON`);
  }
  const s = (k: string) => (typeof status[k] === 'string' ? (status[k] as string) : undefined);
  const expiry = s('expirationTimestamp');
  return { token: s('token'), cert: s('clientCertificateData'), key: s('clientKeyData'), expires: expiry ? Date.parse(expiry) : undefined };
}

function readTokenFile(file: string): Issued {
  try {
    return { token: fs.readFileSync(file, 'utf8').trim(), expires: Date.now() + TOKEN_FILE_TTL_MS };
  } catch (err) {
    throw new Error(`cannot read token file ${file}: ${(err as Error).message}`);
  }
}

/** Access for one context: static credentials as they are; plugin and file credentials cached until they expire. */
export function clusterAccess(cluster: ClusterEntry, user: UserEntry): ClusterAccess {
  const secure = cluster.server.startsWith('https:');
  const source = user.exec ? () => runExec(user.exec!) : user.tokenFile && !user.token ? async () => readTokenFile(user.tokenFile!) : undefined;
  let issued: Promise<Issued> | undefined;
  let pool: { forCert: string | undefined; agents: Record<ConnectionUse, httpTypes.Agent> } | undefined;

  const current = async (): Promise<Issued> => {
    if (!source) return { token: user.token, cert: user.cert, key: user.key };
    for (let attempt = 0; ; attempt++) {
      const pending = (issued ??= source());
      let got: Issued;
      try {
        got = await pending;
      } catch (err) {
        if (issued === pending) issued = undefined;
        throw err;
      }
      // Fetch again shortly before the expiry, once: a plugin that hands out short-lived tokens still works.
      if (got.expires === undefined || got.expires > Date.now() + 10_000 || attempt > 0) return got;
      if (issued === pending) issued = undefined;
    }
  };

  return {
    server: cluster.server.replace(/\/$/, ''),
    async agent(use: ConnectionUse = 'request') {
      const creds = await current();
      const cert = creds.cert ?? user.cert;
      if (!pool || pool.forCert !== cert) {
        for (const old of Object.values(pool?.agents ?? {})) old.destroy();
        const made = (maxSockets: number): httpTypes.Agent =>
          secure
            ? new https.Agent({
                keepAlive: true,
                maxSockets,
                ca: cluster.ca,
                cert,
                key: creds.key ?? user.key,
                rejectUnauthorized: !cluster.insecureSkipTlsVerify,
                servername: cluster.tlsServerName,
              })
            : new http.Agent({ keepAlive: true, maxSockets });
        pool = { forCert: cert, agents: { request: made(REQUEST_CONNECTIONS), watch: made(Infinity), urgent: made(Infinity) } };
      }
      return pool.agents[use];
    },
    async headers(): Promise<Record<string, string>> {
      const creds = await current();
      if (creds.token) return { authorization: `Bearer ${creds.token}` };
      if (user.username !== undefined) return { authorization: `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}` };
      return {};
    },
    invalidate() {
      if (source) issued = undefined;
    },
  };
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The pod's own service account, as client-go's rest.InClusterConfig reads it. */
export function inClusterAccess(env: NodeJS.ProcessEnv, dir = SA_DIR): ClusterAccess {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`;
  const ca = fs.existsSync(path.join(dir, 'ca.crt')) ? fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8') : undefined;
  return clusterAccess({ server, ca }, { tokenFile: path.join(dir, 'token') });
}
