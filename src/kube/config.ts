// Why: one answer to "which cluster?", shared by the API client and every kubectl subprocess.
import { KubeConfig } from '@kubernetes/client-node';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ConnectionOptions {
  /** Path to a kubeconfig file; defaults to $KUBECONFIG, then ~/.kube/config, then the in-cluster service account. */
  kubeconfig?: string | undefined;
  /** Context name; defaults to $KUSTOMATE_CONTEXT, then the kubeconfig's current-context. */
  context?: string | undefined;
}

/** A resolved cluster: the API client's config and the flags that make kubectl talk to the same cluster. */
export interface Connection {
  kc: KubeConfig;
  /** Arguments every kubectl run gets, e.g. ['--context', C]; empty in-cluster. */
  kubectlArgs: string[];
  /** Environment every kubectl run gets: KUBECONFIG set to the same files the client read. */
  kubectlEnv: Record<string, string>;
  /** Human-readable origin, for logs and errors. */
  source: string;
}

export class ConnectionError extends Error {
  override name = 'ConnectionError';
}

const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function existing(files: string[]): string[] {
  return files.filter((f) => f !== '' && fs.existsSync(f));
}

/**
 * Resolves the cluster the way kubectl does, but refuses to guess: a named kubeconfig or context that
 * does not exist is an error, not a silent fallback to another cluster.
 */
export function connect(opts: ConnectionOptions = {}, env: NodeJS.ProcessEnv = process.env): Connection {
  const kc = new KubeConfig();
  const context = opts.context ?? (env.KUSTOMATE_CONTEXT || undefined);
  let files: string[];
  let source: string;
  if (opts.kubeconfig) {
    files = [path.resolve(opts.kubeconfig)];
    if (existing(files).length === 0) throw new ConnectionError(`kubeconfig ${files[0]} does not exist`);
    source = files[0]!;
  } else if (env.KUBECONFIG) {
    const listed = env.KUBECONFIG.split(path.delimiter);
    files = existing(listed);
    if (files.length === 0) throw new ConnectionError(`KUBECONFIG=${env.KUBECONFIG} names no existing file`);
    source = `KUBECONFIG=${env.KUBECONFIG}`;
  } else {
    const home = path.join(env.HOME ?? os.homedir(), '.kube', 'config');
    files = existing([home]);
    source = home;
  }

  if (files.length === 0) {
    if (env.KUBERNETES_SERVICE_HOST && fs.existsSync(SA_TOKEN)) {
      if (context) throw new ConnectionError(`--context ${context} needs a kubeconfig; none was found and this is an in-cluster run`);
      kc.loadFromCluster();
      // kubectl in a pod with no kubeconfig uses the same service account (rest.InClusterConfig).
      return { kc, kubectlArgs: [], kubectlEnv: {}, source: 'in-cluster service account' };
    }
    throw new ConnectionError(
      'no kubeconfig found: pass --kubeconfig FILE, set KUBECONFIG, or start the local cluster with ' +
        '`npm run cluster:up` and export the KUBECONFIG line it prints',
    );
  }

  for (const [i, file] of files.entries()) {
    const one = new KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (err) {
      throw new ConnectionError(`cannot read kubeconfig ${file}: ${(err as Error).message}`);
    }
    if (i === 0) kc.loadFromFile(file);
    else kc.mergeConfig(one, true);
  }
  if (context) {
    if (!kc.getContextObject(context)) {
      const known = kc.getContexts().map((c) => c.name).join(', ') || 'none';
      throw new ConnectionError(`context "${context}" is not in ${source} (known: ${known})`);
    }
    kc.setCurrentContext(context);
  }
  const current = kc.getCurrentContext();
  if (!current || !kc.getCurrentCluster()) throw new ConnectionError(`${source} has no usable current context`);
  // Pin both files and context, so a later edit of the kubeconfig cannot point kubectl elsewhere.
  return { kc, kubectlArgs: ['--context', current], kubectlEnv: { KUBECONFIG: files.join(path.delimiter) }, source };
}
