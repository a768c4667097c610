// Why: `kustomate run`: turn flags into StartOptions, start the operators, stop cleanly on SIGTERM/SIGINT.
import fs from 'node:fs';
import { pickOperators } from '../operators/index.ts';
import type { LogFormat } from '../runtime/logger.ts';
import { namespaceScope } from '../runtime/namespaces.ts';
import { startOperators } from '../start.ts';

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
  const namespaces = flags.allNamespaces ? [] : (flags.namespace ?? []);
  try {
    namespaceScope(namespaces);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const leaseDurationMs = flags.leaseDuration * 1000;
  const running = await startOperators({
    operators,
    namespaces,
    basesDir: flags.bases,
    kubeconfig: flags.kubeconfig,
    context: flags.context,
    kubectl: flags.kubectl,
    kubectlTimeoutMs: flags.kubectlTimeout * 1000,
    concurrency: flags.concurrency,
    keepWorkdirs: flags.keepWorkdirs ?? false,
    relistIntervalMs: flags.relistInterval * 1000,
    gracePeriodMs: flags.gracePeriod * 1000,
    health: { port: flags.healthPort, host: flags.healthHost },
    logFormat: flags.logFormat,
    ...(flags.leaderElection
      ? {
          leaderElection: {
            namespace: flags.leaderElectionNamespace ?? (fs.existsSync(SA_NAMESPACE) ? fs.readFileSync(SA_NAMESPACE, 'utf8').trim() : 'default'),
            name: flags.leaderElectionId ?? `kustomate-${operators.map((o) => o.name).sort().join('-')}`,
            leaseDurationMs,
            // client-go's proportions: renew deadline 2/3 of the lease, retry period 2/15 of it.
            renewDeadlineMs: Math.round((leaseDurationMs * 2) / 3),
            retryPeriodMs: Math.max(500, Math.round((leaseDurationMs * 2) / 15)),
          },
        }
      : {}),
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      running.logger.info({ signal }, 'stopping: no new work; waiting for running kubectl commands');
      running.stop().then(resolve, (err) => {
        running.logger.error({ err }, 'error while stopping');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  running.logger.info('stopped');
}
