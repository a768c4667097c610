// Why: `kustomate run`: connect, start the controller for the chosen operators, stop cleanly on SIGTERM/SIGINT.
import { ApiError, KubeApi } from '../kube/api.ts';
import { connect } from '../kube/config.ts';
import { createKubectlRunner } from '../kubectl/runner.ts';
import { pickOperators } from '../operators/index.ts';
import { Controller } from '../runtime/controller.ts';
import { createLogger } from '../runtime/logger.ts';

export interface RunFlags {
  namespace?: string[];
  allNamespaces?: boolean;
  concurrency: number;
  kubeconfig?: string;
  context?: string;
  kubectl: string;
  kubectlTimeout: number;
  bases: string;
  keepWorkdirs?: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export async function runCommand(names: string[], flags: RunFlags): Promise<void> {
  if (flags.allNamespaces && flags.namespace?.length) throw new UsageError('--all-namespaces and --namespace exclude each other');
  const operators = pickOperators(names);
  const connection = connect({ kubeconfig: flags.kubeconfig, context: flags.context });
  const logger = createLogger();
  const api = new KubeApi(connection.kc);
  const kubectl = createKubectlRunner({
    binary: flags.kubectl,
    globalArgs: connection.kubectlArgs,
    env: connection.kubectlEnv,
    timeoutMs: flags.kubectlTimeout * 1000,
    onResult: (r) => logger.debug({ command: r.command.slice(1), exitCode: r.exitCode, durationMs: r.durationMs }, 'kubectl'),
  });

  const server = connection.kc.getCurrentCluster()?.server;
  try {
    const version = await api.request<{ gitVersion: string }>('GET', '/version', { timeoutMs: 10_000 });
    logger.info({ server, source: connection.source, version: version.gitVersion }, 'connected');
  } catch (err) {
    throw new Error(`cannot reach the cluster at ${server} (from ${connection.source}): ${(err as Error).message}`);
  }
  for (const op of operators) {
    const { group, version, plural } = op.resource;
    try {
      await api.request('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.${group}`, { timeoutMs: 10_000 });
    } catch (err) {
      // Not fatal: the watch keeps retrying and starts once the CRD appears.
      if (err instanceof ApiError && err.status === 404) {
        logger.error({ operator: op.name }, `CRD ${plural}.${group}/${version} is not installed; install it with: kubectl apply -f crds/${plural}.${group}.yaml`);
      }
    }
  }

  const namespaces = flags.allNamespaces ? [] : (flags.namespace ?? []);
  const controller = new Controller({
    api,
    kubectl,
    operators,
    namespaces,
    concurrency: flags.concurrency,
    basesDir: flags.bases,
    keepWorkdirs: flags.keepWorkdirs ?? false,
    logger,
  });
  controller.start();
  logger.info({ operators: operators.map((o) => o.name), namespaces: namespaces.length ? namespaces : 'all' }, 'operator started');

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping: no new work; waiting for running reconciles');
      controller.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  logger.info('stopped');
}
