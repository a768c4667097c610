// Why: one answer to "which cluster?", shared by the API client and every kubectl subprocess.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clusterAccess, inClusterAccess, type ClusterAccess } from './credentials.ts';
import { KubeconfigError, loadKubeconfig } from './kubeconfig.ts';

export interface ConnectionOptions {
  /** Path to a kubeconfig file; defaults to $KUBECONFIG, then ~/.kube/config, then the in-cluster service account. */
  kubeconfig?: string | undefined;
  /** Context name; defaults to $KUSTOMATE_CONTEXT, then the kubeconfig's current-context. */
  context?: string | undefined;
}

/** A resolved cluster: how the API client reaches it, and the flags that make kubectl talk to the same cluster. */
export interface Connection {
  access: ClusterAccess;
  /** The context in use; undefined in-cluster. */
  context: string | undefined;
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
      // kubectl in a pod with no kubeconfig uses the same service account (rest.InClusterConfig).
      return { access: inClusterAccess(env), context: undefined, kubectlArgs: [], kubectlEnv: {}, source: 'in-cluster service account' };
    }
    throw new ConnectionError(
      'no kubeconfig found: pass --kubeconfig FILE, set KUBECONFIG, or start the local cluster with ' +
        '`npm run cluster:up` and export the KUBECONFIG line it prints',
    );
  }

  try {
    const config = loadKubeconfig(files);
    if (context && !config.contexts.includes(context)) {
      throw new ConnectionError(`context "${context}" is not in ${source} (known: ${config.contexts.join(', ') || 'none'})`);
    }
    const current = context ?? config.currentContext;
    if (!current) throw new ConnectionError(`${source} has no current context; pass --context (known: ${config.contexts.join(', ') || 'none'})`);
    const { cluster, user } = config.resolve(current);
    // Pin both files and context, so a later edit of the kubeconfig cannot point kubectl elsewhere.
    return { access: clusterAccess(cluster, user), context: current, kubectlArgs: ['--context', current], kubectlEnv: { KUBECONFIG: files.join(path.delimiter) }, source };
  } catch (err) {
    if (err instanceof KubeconfigError) throw new ConnectionError(`${source}: ${err.message}`);
    throw err;
  }
}
