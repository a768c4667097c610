// Why: `kustomate run`: turn flags into StartOptions, start the operators, stop cleanly on SIGTERM/SIGINT.
import fs from 'node:fs';
import { setAllowedImages } from '../operators/images.ts';
import { databasetable, hasDefaultDatabaseUrl, setDefaultDatabaseUrl } from '../operators/databasetable/index.ts';
import { pickOperators } from '../operators/index.ts';
import type { DriftMode } from '../operator/operator.ts';
import type { LogFormat } from '../runtime/logger.ts';
import { namespaceScope } from '../runtime/namespaces.ts';
import { shardSelector } from '../runtime/shard.ts';
import { startOperators } from '../start.ts';

export interface RunFlags {
  namespace?: string[];
  allNamespaces?: boolean;
  /** Unset: the default for batched or unbatched runs. */
  concurrency?: number;
  kubeconfig?: string;
  context?: string;
  kubectl: string;
  kubectlTimeout: number;
  /** false with --no-batch. */
  batch: boolean;
  batchWindow: number;
  batchMax: number;
  /** Unset: DEFAULT_PROCESSES. */
  batchProcesses?: number;
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
  drift?: DriftMode;
  healthTimeout?: number;
  databaseUrl?: string;
  allowedImages?: string;
  shardKey?: string;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export async function runCommand(names: string[], flags: RunFlags): Promise<void> {
  if (flags.allNamespaces && flags.namespace?.length) throw new UsageError('--all-namespaces and --namespace exclude each other');
  const operators = await pickOperators(names);
  const namespaces = flags.allNamespaces ? [] : (flags.namespace ?? []);
  let labelSelector: string | undefined;
  try {
    namespaceScope(namespaces);
    labelSelector = shardSelector(flags.shardKey);
    setDefaultDatabaseUrl(flags.databaseUrl);
    setAllowedImages(flags.allowedImages?.split(',').map((e) => e.trim()).filter(Boolean));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // Signals are handled from the start: one that arrives while connecting still stops cleanly. The listeners
  // stay installed (process.on, not once): execa's exit hook (signal-exit) re-raises a signal nobody else
  // listens to, which would kill running kubectl commands and this process at once. A second signal exits now.
  let stopSignal: string | undefined;
  let wake: () => void = () => {};
  const signalled = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal) {
      process.stderr.write(`kustomate: ${signal} again: exiting without waiting\n`);
      process.exit(1);
    }
    stopSignal = signal;
    wake();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const leaseDurationMs = flags.leaseDuration * 1000;
  const running = await startOperators({
    operators,
    namespaces,
    basesDir: flags.bases,
    kubeconfig: flags.kubeconfig,
    context: flags.context,
    kubectl: flags.kubectl,
    kubectlTimeoutMs: flags.kubectlTimeout * 1000,
    batch: flags.batch ? { windowMs: flags.batchWindow, max: flags.batchMax, ...(flags.batchProcesses ? { processes: flags.batchProcesses } : {}) } : false,
    ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
    keepWorkdirs: flags.keepWorkdirs ?? false,
    relistIntervalMs: flags.relistInterval * 1000,
    gracePeriodMs: flags.gracePeriod * 1000,
    ...(flags.drift ? { drift: flags.drift } : {}),
    ...(labelSelector ? { labelSelector } : {}),
    ...(flags.healthTimeout ? { healthTimeoutMs: flags.healthTimeout * 1000 } : {}),
    health: { port: flags.healthPort, host: flags.healthHost },
    logFormat: flags.logFormat,
    ...(flags.leaderElection
      ? {
          leaderElection: {
            namespace: flags.leaderElectionNamespace ?? (fs.existsSync(SA_NAMESPACE) ? fs.readFileSync(SA_NAMESPACE, 'utf8').trim() : 'default'),
            // Each shard elects its own leader: replicas of one shard stand by for each other, not for other shards.
            name: (flags.leaderElectionId ?? `kustomate-${operators.map((o) => o.name).sort().join('-')}`) + (flags.shardKey === undefined ? '' : `-shard-${flags.shardKey || 'none'}`),
            leaseDurationMs,
            // client-go's proportions: renew deadline 2/3 of the lease, retry period 2/15 of it.
            renewDeadlineMs: Math.round((leaseDurationMs * 2) / 3),
            retryPeriodMs: Math.max(500, Math.round((leaseDurationMs * 2) / 15)),
          },
        }
      : {}),
  });
  if (operators.includes(databasetable) && !hasDefaultDatabaseUrl()) {
    running.logger.warn('databasetable: no --database-url or DATABASE_URL, so DatabaseTables without spec.connectionSecretRef wait (NoDatabase); a local PostgreSQL: npm run postgres:up');
  }
  await signalled;
  running.logger.info({ signal: stopSignal }, 'stopping: no new work; waiting for running kubectl commands');
  try {
    await running.stop();
  } catch (err) {
    running.logger.error({ err }, 'error while stopping');
  }
  running.logger.info('stopped');
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
}
