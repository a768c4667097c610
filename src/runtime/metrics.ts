// Why: Prometheus metrics for reconciles, handlers, the queue, kubectl runs and leadership, in one registry.
import type { KubectlResult } from '../kubectl/runner.ts';
import { Counter, Gauge, Histogram, Registry } from './prometheus.ts';

const SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];

export class Metrics {
  readonly registry = new Registry();
  readonly reconciles = this.registry.add(new Counter('kustomate_reconciles_total', 'Reconciles run, by operator and result (ok, error).'));
  readonly reconcileSeconds = this.registry.add(new Histogram('kustomate_reconcile_duration_seconds', 'Time per reconcile.', SECONDS));
  readonly handlers = this.registry.add(new Counter('kustomate_handler_runs_total', 'Handler attempts, by operator, handler, cause and result.'));
  readonly handlerErrors = this.registry.add(new Counter('kustomate_handler_errors_total', 'Failed handler attempts, by operator and handler.'));
  readonly handlerSeconds = this.registry.add(new Histogram('kustomate_handler_duration_seconds', 'Time per handler attempt.', SECONDS));
  readonly queueDepth = this.registry.add(new Gauge('kustomate_queue_depth', 'Objects waiting for a worker.'));
  readonly queueRunning = this.registry.add(new Gauge('kustomate_queue_running', 'Reconciles running now, those in kustomate_queue_lent included.'));
  readonly queueLent = this.registry.add(new Gauge('kustomate_queue_lent', 'Reconciles waiting for a shared kubectl process that let another object start in their place.'));
  readonly kubectlRuns = this.registry.add(new Counter('kustomate_kubectl_runs_total', 'kubectl runs, by verb and result (ok, error, timeout).'));
  readonly kubectlSeconds = this.registry.add(new Histogram('kustomate_kubectl_duration_seconds', 'Time per kubectl run.', [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 120]));
  readonly watchErrors = this.registry.add(new Counter('kustomate_watch_errors_total', 'Failed list or watch requests, by operator.'));
  readonly leader = this.registry.add(new Gauge('kustomate_leader', '1 while this process holds the leader lease (or runs without leader election).'));

  /** Records one kubectl run; the verb is the first argument that is not a flag or its value. */
  kubectl(result: KubectlResult, globalArgCount: number): void {
    const verb = result.command.slice(1 + globalArgCount).find((a) => !a.startsWith('-')) ?? 'unknown';
    this.kubectlRuns.inc({ verb, result: result.timedOut ? 'timeout' : result.exitCode === 0 ? 'ok' : 'error' });
    this.kubectlSeconds.observe({ verb }, result.durationMs / 1000);
  }
}
