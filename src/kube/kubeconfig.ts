// Why: reading kubeconfig files ourselves keeps the operator small; the client library pulls in every generated API.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/** What a request needs to reach the cluster and prove who it is, as one kubeconfig context says. */
export interface ClusterEntry {
  server: string;
  /** PEM; undefined trusts the system's roots. */
  ca?: string | undefined;
  insecureSkipTlsVerify?: boolean | undefined;
  tlsServerName?: string | undefined;
}

export interface ExecConfig {
  command: string;
  args: string[];
  env: Record<string, string>;
  apiVersion: string;
  /** The directory of the kubeconfig file: a relative command is resolved from there. */
  dir: string;
}

export interface UserEntry {
  cert?: string | undefined;
  key?: string | undefined;
  token?: string | undefined;
  tokenFile?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  exec?: ExecConfig | undefined;
}

export interface Kubeconfig {
  currentContext: string | undefined;
  /** Every context's name, in the order the files define them. */
  contexts: string[];
  /** The cluster and the user of one context, with certificates and keys read. */
  resolve(context: string): { cluster: ClusterEntry; user: UserEntry };
}

export class KubeconfigError extends Error {
  override name = 'KubeconfigError';
}

type Raw = Record<string, unknown>;
const record = (v: unknown): Raw => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const named = (v: unknown): Array<{ name: string; body: Raw }> =>
  (Array.isArray(v) ? v : []).flatMap((e) => {
    const name = str(record(e).name);
    return name ? [{ name, body: record(e) }] : [];
  });

/** A `*-data` field (base64) or a file path relative to the kubeconfig, read now, as kubectl does. */
function pem(dir: string, data: unknown, file: unknown, what: string): string | undefined {
  const inline = str(data);
  if (inline) return Buffer.from(inline, 'base64').toString();
  const f = str(file);
  if (!f) return undefined;
  try {
    return fs.readFileSync(path.resolve(dir, f), 'utf8');
  } catch (err) {
    throw new KubeconfigError(`cannot read ${what} ${f}: ${(err as Error).message}`);
  }
}

function cluster(dir: string, c: Raw): ClusterEntry {
  const server = str(c.server);
  if (!server) throw new KubeconfigError('a cluster has no server');
  return {
    server,
    ca: pem(dir, c['certificate-authority-data'], c['certificate-authority'], 'certificate-authority'),
    insecureSkipTlsVerify: c['insecure-skip-tls-verify'] === true,
    tlsServerName: str(c['tls-server-name']),
  };
}

function user(dir: string, name: string, u: Raw): UserEntry {
  if (u['auth-provider']) {
    // client-go dropped the gcp and azure providers in v1.26; exec plugins replace them all.
    // https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins
    throw new KubeconfigError(`user "${name}" uses an auth-provider; use a client-go credential plugin (users[].user.exec) instead`);
  }
  const exec = record(u.exec);
  const command = str(exec.command);
  return {
    cert: pem(dir, u['client-certificate-data'], u['client-certificate'], 'client-certificate'),
    key: pem(dir, u['client-key-data'], u['client-key'], 'client-key'),
    token: str(u.token),
    tokenFile: str(u.tokenFile) && path.resolve(dir, str(u.tokenFile)!),
    username: str(u.username),
    password: str(u.password),
    exec: command
      ? {
          command,
          args: (Array.isArray(exec.args) ? exec.args : []).map(String),
          env: Object.fromEntries(named(exec.env).map(({ name: n, body }) => [n, String(body.value ?? '')])),
          apiVersion: str(exec.apiVersion) ?? 'client.authentication.k8s.io/v1',
          dir,
        }
      : undefined,
  };
}

/**
 * Merges kubeconfig files the way kubectl does: the first file that sets current-context wins, and the first
 * file that defines a named cluster, user or context wins. Clusters and users are read lazily, so a broken
 * entry that the chosen context does not use is no error.
 * https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/#merging-kubeconfig-files
 */
export function loadKubeconfig(files: string[]): Kubeconfig {
  let currentContext: string | undefined;
  const contexts = new Map<string, { cluster: string; user: string | undefined }>();
  const clusters = new Map<string, { dir: string; body: Raw }>();
  const users = new Map<string, { dir: string; body: Raw }>();
  for (const file of files) {
    let doc: Raw;
    try {
      doc = record(parse(fs.readFileSync(file, 'utf8')));
    } catch (err) {
      throw new KubeconfigError(`cannot read kubeconfig ${file}: ${(err as Error).message}`);
    }
    const dir = path.dirname(path.resolve(file));
    currentContext ??= str(doc['current-context']);
    for (const { name, body } of named(doc.contexts)) {
      const c = record(body.context);
      const clusterName = str(c.cluster);
      if (clusterName && !contexts.has(name)) contexts.set(name, { cluster: clusterName, user: str(c.user) });
    }
    for (const { name, body } of named(doc.clusters)) if (!clusters.has(name)) clusters.set(name, { dir, body: record(body.cluster) });
    for (const { name, body } of named(doc.users)) if (!users.has(name)) users.set(name, { dir, body: record(body.user) });
  }
  const resolve = (context: string) => {
    const ctx = contexts.get(context);
    if (!ctx) throw new KubeconfigError(`context "${context}" is not defined`);
    const c = clusters.get(ctx.cluster);
    if (!c) throw new KubeconfigError(`context "${context}" names cluster "${ctx.cluster}", which is not defined`);
    const u = ctx.user ? users.get(ctx.user) : undefined;
    if (ctx.user && !u) throw new KubeconfigError(`context "${context}" names user "${ctx.user}", which is not defined`);
    return { cluster: cluster(c.dir, c.body), user: u ? user(u.dir, ctx.user!, u.body) : {} };
  };
  return { currentContext, contexts: [...contexts.keys()], resolve };
}
