// Why: Prometheus metrics for reconciles, handlers, the queue, kubectl runs and leadership, in one registry.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { KubectlResult } from '../kubectl/runner.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: 'kustomate_reconciles_total', help: 'Reconciles run, by operator and result (ok, error).', labelNames: ['operator', 'result'], registers: [this.registry] });
  readonly reconcileSeconds = new Histogram({ name: 'kustomate_reconcile_duration_seconds', help: 'Time per reconcile.', labelNames: ['operator'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120], registers: [this.registry] });
  readonly handlers = new Counter({ name: 'kustomate_handler_runs_total', help: 'Handler attempts, by operator, handler, cause and result.', labelNames: ['operator', 'handler', 'cause', 'result'], registers: [this.registry] });
  readonly handlerErrors = new Counter({ name: 'kustomate_handler_errors_total', help: 'Failed handler attempts, by operator and handler.', labelNames: ['operator', 'handler'], registers: [this.registry] });
  readonly handlerSeconds = new Histogram({ name: 'kustomate_handler_duration_seconds', help: 'Time per handler attempt.', labelNames: ['operator', 'handler'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120], registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'kustomate_queue_depth', help: 'Objects waiting for a worker.', registers: [this.registry] });
  readonly queueRunning = new Gauge({ name: 'kustomate_queue_running', help: 'Reconciles running now.', registers: [this.registry] });
  readonly kubectlRuns = new Counter({ name: 'kustomate_kubectl_runs_total', help: 'kubectl runs, by verb and result (ok, error, timeout).', labelNames: ['verb', 'result'], registers: [this.registry] });
  readonly kubectlSeconds = new Histogram({ name: 'kustomate_kubectl_duration_seconds', help: 'Time per kubectl run.', labelNames: ['verb'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 120], registers: [this.registry] });
  readonly watchErrors = new Counter({ name: 'kustomate_watch_errors_total', help: 'Failed list or watch requests, by operator.', labelNames: ['operator'], registers: [this.registry] });
  readonly leader = new Gauge({ name: 'kustomate_leader', help: '1 while this process holds the leader lease (or runs without leader election).', registers: [this.registry] });

  /** Records one kubectl run; the verb is the first argument that is not a flag or its value. */
  kubectl(result: KubectlResult, globalArgCount: number): void {
    const verb = result.command.slice(1 + globalArgCount).find((a) => !a.startsWith('-')) ?? 'unknown';
    this.kubectlRuns.inc({ verb, result: result.timedOut ? 'timeout' : result.exitCode === 0 ? 'ok' : 'error' });
    this.kubectlSeconds.observe({ verb }, result.durationMs / 1000);
  }
}
