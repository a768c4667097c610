// Why: wires the layers for a set of operators: watcher -> queue -> reactor, per operator and namespace.
import type { Logger } from 'pino';
import { resourcePath, type Api, type KubeObject } from '../kube/api.ts';
import type { KubectlRunner } from '../kubectl/runner.ts';
import { createEventRecorder } from './events.ts';
import type { Operator } from './operator.ts';
import { WorkQueue } from './queue.ts';
import { Reactor } from './reactor.ts';
import { StatusWriter } from './status.ts';
import { Watcher } from './watcher.ts';

export interface ControllerOptions {
  api: Api;
  kubectl: KubectlRunner;
  operators: Operator[];
  /** Namespaces to watch; empty means all namespaces. */
  namespaces: string[];
  concurrency: number;
  basesDir: string;
  keepWorkdirs?: boolean;
  logger: Logger;
  relistIntervalMs?: number;
}

interface Item {
  reactor: Reactor;
  object: KubeObject;
}

/** Runs operators until stop(): watches, queues by uid, reconciles. */
export class Controller {
  private readonly opts: ControllerOptions;
  private readonly watchers: Watcher[] = [];
  private readonly queue: WorkQueue<Item>;
  private readonly shutdown = new AbortController();

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.queue = new WorkQueue<Item>((key, item) => this.work(key, item), { concurrency: opts.concurrency });
  }

  private async work(key: string, { reactor, object }: Item): Promise<void> {
    try {
      const again = await reactor.reconcile(object);
      if (again !== undefined) this.queue.addAfter(key, { reactor, object }, again);
    } catch (err) {
      // Errors outside handlers (API unreachable, a patch refused): log and retry later, never crash.
      this.opts.logger.error({ err, namespace: object.metadata.namespace, name: object.metadata.name }, 'reconcile failed');
      this.queue.addAfter(key, { reactor, object }, 5_000);
    }
  }

  start(): void {
    const { api, operators, namespaces, logger } = this.opts;
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
      });
      for (const ns of namespaces.length ? namespaces : [undefined]) {
        const path = resourcePath(operator.resource, ns);
        const watcher = new Watcher({
          api,
          path,
          relistIntervalMs: this.opts.relistIntervalMs ?? 0,
          onEvent: (type, object) => {
            const key = `${operator.name}/${object.metadata.uid}`;
            if (type === 'DELETED') {
              this.queue.forget(key);
              reactor.forget(object.metadata.uid ?? '');
            } else {
              this.queue.add(key, { reactor, object });
            }
          },
          onListed: () => logger.info({ operator: operator.name, namespace: ns ?? '*' }, 'listed; watching'),
          onError: (err, retryInMs) => logger.warn({ err, operator: operator.name, path, retryInMs }, 'watch failed; retrying'),
        });
        this.watchers.push(watcher);
        watcher.start();
      }
    }
  }

  /** Stops watching and taking work, then waits for running reconciles (their kubectl runs) to end. */
  async stop(): Promise<void> {
    await Promise.all(this.watchers.map((w) => w.stop()));
    await this.queue.stop();
    this.shutdown.abort();
  }
}
