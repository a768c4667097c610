// Why: one way to start operators, shared by `kustomate run` and by programs that import kustomate.
import type { Logger } from 'pino';
import { ApiError, KubeApi } from './kube/api.ts';
import { connect, type Connection } from './kube/config.ts';
import { createKubectlRunner } from './kubectl/runner.ts';
import { DEFAULT_CONCURRENCY, UNBATCHED_CONCURRENCY, type BatchOptions } from './kustomize/batch.ts';
import { DEFAULT_BASES_DIR } from './kustomize/bases.ts';
import { createLogger, type LogFormat } from './runtime/logger.ts';
import { Manager, type LeaderElectionConfig } from './runtime/manager.ts';
import { Metrics } from './runtime/metrics.ts';
import { namespaceScope } from './runtime/namespaces.ts';
import type { DriftMode, Operator } from './operator/operator.ts';

export interface StartOptions {
  operators: Operator<any>[];
  /** Bases for operators that name no `basesDir` of their own (default: the package's kustomize/). */
  basesDir?: string;
  /** Names, globs (`team-*`) or exclusions (`!kube-*`); empty or absent means all namespaces. */
  namespaces?: string[];
  /** Kubeconfig file and context; by default $KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
  kubeconfig?: string;
  context?: string;
  /** kubectl binary (default `kubectl` on PATH) and its per-run timeout (default 120 s). */
  kubectl?: string;
  kubectlTimeoutMs?: number;
  /** Objects reconciled at once: DEFAULT_CONCURRENCY, or UNBATCHED_CONCURRENCY with `batch: false`. */
  concurrency?: number;
  keepWorkdirs?: boolean;
  /** Periodic relist (default 10 min; 0 turns it off). */
  relistIntervalMs?: number;
  /** Only the Lease holder reconciles; all durations positive, renewDeadlineMs less than leaseDurationMs. */
  leaderElection?: LeaderElectionConfig;
  /** /healthz, /readyz and /metrics; absent means no server. */
  health?: { port: number; host: string };
  /** On stop, how long running kubectl commands may finish (default 30 s). */
  gracePeriodMs?: number;
  /** Override every operator's drift mode (`correct`, `warn`, `ignore`) and health timeout. */
  drift?: DriftMode;
  healthTimeoutMs?: number;
  /** Only custom resources matching this label selector (a shard, see shardSelector). */
  labelSelector?: string;
  /**
   * kubectl processes shared by objects that render and apply at the same time (default on: DEFAULT_BATCH, a big
   * batch in up to DEFAULT_PROCESSES shares at once unless `processes` says); false: one each.
   */
  batch?: BatchOptions | false;
  logger?: Logger;
  logFormat?: LogFormat;
}

export interface RunningOperators {
  manager: Manager;
  logger: Logger;
  connection: Connection;
  /** Stop taking work, finish or cancel running kubectl, release the lease, remove work dirs. */
  stop(): Promise<void>;
}

/**
 * Refuses leader election timings that cannot work. A leader must give up (renew deadline) before a standby may
 * take the lease (lease duration), or two leaders reconcile at once; client-go refuses the same.
 */
function checkLeaderElection(le: LeaderElectionConfig): void {
  const problems: string[] = [];
  for (const key of ['leaseDurationMs', 'renewDeadlineMs', 'retryPeriodMs'] as const) {
    const v: unknown = le[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) problems.push(`${key} must be a positive number of ms, got ${String(v)}`);
  }
  if (!problems.length && le.renewDeadlineMs >= le.leaseDurationMs) {
    problems.push(`renewDeadlineMs (${le.renewDeadlineMs}) must be less than leaseDurationMs (${le.leaseDurationMs})`);
  }
  for (const key of ['namespace', 'name'] as const) {
    const v: unknown = le[key];
    if (typeof v !== 'string' || v === '') problems.push(`${key} must name the Lease, got ${JSON.stringify(v)}`);
  }
  if (problems.length) throw new Error(`startOperators: leaderElection: ${problems.join('; ')}`);
}

/**
 * Connects (failing fast, with a clear message, if the cluster cannot be reached), warns about CRDs that are not
 * installed (their watches start once they are), and starts the operators. Never exits the process.
 */
export async function startOperators(opts: StartOptions): Promise<RunningOperators> {
  if (opts.leaderElection) checkLeaderElection(opts.leaderElection);
  const scope = namespaceScope(opts.namespaces ?? []);
  const connection = connect({ kubeconfig: opts.kubeconfig, context: opts.context });
  const logger = opts.logger ?? createLogger(opts.logFormat);
  const metrics = new Metrics();
  const api = new KubeApi(connection.access);
  const kubectl = createKubectlRunner({
    binary: opts.kubectl ?? 'kubectl',
    globalArgs: connection.kubectlArgs,
    env: connection.kubectlEnv,
    timeoutMs: opts.kubectlTimeoutMs ?? 120_000,
    onResult: (r) => {
      metrics.kubectl(r, connection.kubectlArgs.length);
      logger.debug({ command: r.command.slice(1), exitCode: r.exitCode, durationMs: r.durationMs }, 'kubectl');
    },
  });

  const server = connection.access.server;
  try {
    const version = await api.request<{ gitVersion: string }>('GET', '/version', { timeoutMs: 10_000 });
    logger.info({ server, source: connection.source, version: version.gitVersion }, 'connected');
  } catch (err) {
    throw new Error(`cannot reach the cluster at ${server} (from ${connection.source}): ${(err as Error).message}`);
  }
  for (const op of opts.operators) {
    const { group, plural } = op.resource;
    try {
      await api.request('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.${group}`, { timeoutMs: 10_000 });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        logger.error({ operator: op.name }, `CRD ${plural}.${group} is not installed; its watch starts once it is (kubectl apply -f crds/${plural}.${group}.yaml)`);
      }
    }
  }

  const manager = new Manager({
    api,
    kubectl,
    operators: opts.operators,
    namespaces: scope,
    concurrency: opts.concurrency ?? (opts.batch === false ? UNBATCHED_CONCURRENCY : DEFAULT_CONCURRENCY),
    basesDir: opts.basesDir ?? DEFAULT_BASES_DIR,
    keepWorkdirs: opts.keepWorkdirs ?? false,
    logger,
    metrics,
    relistIntervalMs: opts.relistIntervalMs ?? 600_000,
    gracePeriodMs: opts.gracePeriodMs ?? 30_000,
    drift: opts.drift,
    healthTimeoutMs: opts.healthTimeoutMs,
    labelSelector: opts.labelSelector,
    batch: opts.batch,
    ...(opts.health ? { health: opts.health } : {}),
    ...(opts.leaderElection ? { leaderElection: opts.leaderElection } : {}),
  });
  await manager.start();
  logger.info({ operators: opts.operators.map((o) => o.name), namespaces: scope.describe, leaderElection: !!opts.leaderElection, labelSelector: opts.labelSelector }, 'operator started');
  return { manager, logger, connection, stop: () => manager.stop() };
}
