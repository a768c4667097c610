// Why: wires the layers for a set of operators: watcher -> queue -> reactor, per operator and namespace.
import type { Logger } from 'pino';
import { resourcePath, type Api, type KubeObject } from '../kube/api.ts';
import type { KubectlRunner } from '../kubectl/runner.ts';
import { createEventRecorder } from './events.ts';
import type { Metrics } from './metrics.ts';
import type { NamespaceScope } from './namespaces.ts';
import type { Operator } from './operator.ts';
import { WorkQueue } from './queue.ts';
import { Reactor } from './reactor.ts';
import { StatusWriter } from './status.ts';
import { Watcher } from './watcher.ts';

export interface ControllerOptions {
  api: Api;
  kubectl: KubectlRunner;
  operators: Operator[];
  /** Which namespaces to watch and accept (namespaceScope turns --namespace arguments into one). */
  namespaces: NamespaceScope;
  concurrency: number;
  basesDir: string;
  keepWorkdirs?: boolean;
  logger: Logger;
  /** Relist everything this often (ms) as a level-triggered safety net; 0 turns it off. */
  relistIntervalMs?: number;
  metrics?: Metrics;
}

interface Item {
  reactor: Reactor;
  operator: string;
  object: KubeObject;
}

/** Runs operators until stop(): watches, queues by uid, reconciles. */
export class Controller {
  private readonly opts: ControllerOptions;
  private readonly scope: NamespaceScope;
  private readonly watchers: Watcher[] = [];
  private readonly listed = new Set<Watcher>();
  private readonly queue: WorkQueue<Item>;
  private readonly shutdown = new AbortController();

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.scope = opts.namespaces;
    this.queue = new WorkQueue<Item>((key, item) => this.work(key, item), { concurrency: opts.concurrency });
  }

  /** Every watch has listed at least once: the controller has seen the whole current state. */
  get synced(): boolean {
    return this.watchers.length > 0 && this.listed.size === this.watchers.length;
  }

  private gauge(): void {
    this.opts.metrics?.queueDepth.set(this.queue.depth);
    this.opts.metrics?.queueRunning.set(this.queue.running);
  }

  private async work(key: string, item: Item): Promise<void> {
    const { reactor, object, operator } = item;
    const stop = this.opts.metrics?.reconcileSeconds.startTimer({ operator });
    this.gauge();
    try {
      const again = await reactor.reconcile(object);
      this.opts.metrics?.reconciles.inc({ operator, result: 'ok' });
      if (again !== undefined && Number.isFinite(again)) this.queue.addAfter(key, item, again);
    } catch (err) {
      // Errors outside handlers (API unreachable, a patch refused): log and retry later, never crash.
      this.opts.metrics?.reconciles.inc({ operator, result: 'error' });
      this.opts.logger.error({ err, namespace: object.metadata.namespace, name: object.metadata.name }, 'reconcile failed');
      this.queue.addAfter(key, item, 5_000);
    } finally {
      stop?.();
      this.gauge();
    }
  }

  start(): void {
    const { api, operators, logger, metrics } = this.opts;
    for (const operator of operators) {
      const reactor = new Reactor({
        api,
        operator,
        status: new StatusWriter(api, operator.resource),
        events: createEventRecorder(api, (err) => logger.warn({ err }, 'could not record an Event')),
        logger: logger.child({ operator: operator.name }),
        kubectl: this.opts.kubectl,
        basesDir: this.opts.basesDir,
        keepWorkdirs: this.opts.keepWorkdirs ?? false,
        signal: this.shutdown.signal,
        onHandler: (o) => {
          metrics?.handlers.inc({ operator: o.operator, handler: o.handler, cause: o.cause, result: o.ok ? 'ok' : 'error' });
          metrics?.handlerSeconds.observe({ operator: o.operator, handler: o.handler }, o.durationMs / 1000);
          if (!o.ok) metrics?.handlerErrors.inc({ operator: o.operator, handler: o.handler });
        },
      });
      for (const ns of this.scope.watch.length ? this.scope.watch : [undefined]) {
        const path = resourcePath(operator.resource, ns);
        const watcher: Watcher = new Watcher({
          api,
          path,
          relistIntervalMs: this.opts.relistIntervalMs ?? 0,
          onEvent: (type, object) => {
            if (!this.scope.accepts(object.metadata.namespace)) return;
            const key = `${operator.name}/${object.metadata.uid}`;
            if (type === 'DELETED') {
              this.queue.forget(key);
              reactor.forget(object.metadata.uid ?? '');
            } else {
              this.queue.add(key, { reactor, operator: operator.name, object });
            }
            this.gauge();
          },
          onListed: () => {
            if (!this.listed.has(watcher)) logger.info({ operator: operator.name, namespace: ns ?? '*' }, 'listed; watching');
            else logger.debug({ operator: operator.name, namespace: ns ?? '*' }, 'relisted');
            this.listed.add(watcher);
          },
          onError: (err, retryInMs) => {
            metrics?.watchErrors.inc({ operator: operator.name });
            logger.warn({ err: (err as Error).message, operator: operator.name, path, retryInMs }, 'watch failed; retrying');
          },
        });
        this.watchers.push(watcher);
        watcher.start();
      }
    }
  }

  /**
   * Stops watching and taking work, and waits for running reconciles. After `graceMs` their kubectl runs are
   * cancelled (and their work dirs removed as they unwind).
   */
  async stop(graceMs = 30_000): Promise<void> {
    await Promise.all(this.watchers.map((w) => w.stop()));
    const drained = this.queue.stop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    if ((await Promise.race([drained.then(() => 'done' as const), late])) === 'late') {
      this.opts.logger.warn({ graceMs }, 'grace period over: cancelling running kubectl commands');
    }
    clearTimeout(timer);
    this.shutdown.abort();
    await drained;
  }
}
