// Why: `kustomate run`: connect, start the manager for the chosen operators, stop cleanly on SIGTERM/SIGINT.
import fs from 'node:fs';
import { ApiError, KubeApi } from '../kube/api.ts';
import { connect } from '../kube/config.ts';
import { createKubectlRunner } from '../kubectl/runner.ts';
import { pickOperators } from '../operators/index.ts';
import { createLogger, type LogFormat } from '../runtime/logger.ts';
import { Manager } from '../runtime/manager.ts';
import { Metrics } from '../runtime/metrics.ts';
import { namespaceScope } from '../runtime/namespaces.ts';

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
  relistInterval: number;
  leaderElection?: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId?: string;
  leaseDuration: number;
  healthPort: number;
  healthHost: string;
  logFormat?: LogFormat;
  gracePeriod: number;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export async function runCommand(names: string[], flags: RunFlags): Promise<void> {
  if (flags.allNamespaces && flags.namespace?.length) throw new UsageError('--all-namespaces and --namespace exclude each other');
  const operators = pickOperators(names);
  let scope;
  try {
    scope = namespaceScope(flags.allNamespaces ? [] : (flags.namespace ?? []));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const connection = connect({ kubeconfig: flags.kubeconfig, context: flags.context });
  const logger = createLogger(flags.logFormat);
  const metrics = new Metrics();
  const api = new KubeApi(connection.kc);
  const kubectl = createKubectlRunner({
    binary: flags.kubectl,
    globalArgs: connection.kubectlArgs,
    env: connection.kubectlEnv,
    timeoutMs: flags.kubectlTimeout * 1000,
    onResult: (r) => {
      metrics.kubectl(r, connection.kubectlArgs.length);
      logger.debug({ command: r.command.slice(1), exitCode: r.exitCode, durationMs: r.durationMs }, 'kubectl');
    },
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

  const leaseNamespace =
    flags.leaderElectionNamespace ?? (fs.existsSync(SA_NAMESPACE) ? fs.readFileSync(SA_NAMESPACE, 'utf8').trim() : 'default');
  const leaseDurationMs = flags.leaseDuration * 1000;
  const manager = new Manager({
    api,
    kubectl,
    operators,
    namespaces: scope,
    concurrency: flags.concurrency,
    basesDir: flags.bases,
    keepWorkdirs: flags.keepWorkdirs ?? false,
    logger,
    metrics,
    relistIntervalMs: flags.relistInterval * 1000,
    gracePeriodMs: flags.gracePeriod * 1000,
    health: { port: flags.healthPort, host: flags.healthHost },
    ...(flags.leaderElection
      ? {
          leaderElection: {
            namespace: leaseNamespace,
            name: flags.leaderElectionId ?? `kustomate-${operators.map((o) => o.name).sort().join('-')}`,
            leaseDurationMs,
            // client-go's proportions: renew deadline 2/3 of the lease, retry period 2/15 of it.
            renewDeadlineMs: Math.round((leaseDurationMs * 2) / 3),
            retryPeriodMs: Math.max(500, Math.round((leaseDurationMs * 2) / 15)),
          },
        }
      : {}),
  });

  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping: no new work; waiting for running kubectl commands');
      manager.stop().then(resolve, (err) => {
        logger.error({ err }, 'error while stopping');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await manager.start();
  logger.info({ operators: operators.map((o) => o.name), namespaces: scope.describe, leaderElection: flags.leaderElection ?? false }, 'operator started');
  await stopped;
  logger.info('stopped');
}
