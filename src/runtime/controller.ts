// Why: wires the layers for a set of operators: watcher -> queue -> reconciler, per operator and namespace.
import type { Logger } from 'pino';
import { resourcePath, type Api, type KubeObject } from '../kube/api.ts';
import { Discovery } from '../kube/discovery.ts';
import type { KubectlRunner } from '../kubectl/runner.ts';
import { DEFAULT_BATCH, KubectlBatcher, type BatchOptions } from '../kustomize/batch.ts';
import { INSTANCE_LABEL, OWNER_KIND_LABEL, OWNER_UID_ANNOTATION, ownerKindLabelValue } from '../kustomize/labels.ts';
import type { DriftMode, Operator } from '../operator/operator.ts';
import { ChildStates, keyOfChild } from '../reconcile/child-states.ts';
import { createEventRecorder } from '../reconcile/events.ts';
import type { InventoryEntry } from '../reconcile/inventory.ts';
import { Reconciler, type Target } from '../reconcile/reconcile.ts';
import type { Metrics } from './metrics.ts';
import type { NamespaceScope } from './namespaces.ts';
import { WorkQueue } from './queue.ts';
import { Watcher } from './watcher.ts';

export interface ControllerOptions {
  api: Api;
  kubectl: KubectlRunner;
  operators: Operator<any>[];
  /** Which namespaces to watch and accept (namespaceScope turns --namespace arguments into one). */
  namespaces: NamespaceScope;
  concurrency: number;
  basesDir: string;
  keepWorkdirs?: boolean;
  logger: Logger;
  /** Relist everything this often (ms) as a level-triggered safety net; 0 turns it off. */
  relistIntervalMs?: number;
  metrics?: Metrics;
  /** Override every operator's drift mode and health timeout (the command line's --drift, --health-timeout). */
  drift?: DriftMode | undefined;
  healthTimeoutMs?: number | undefined;
  /** Only custom resources matching this label selector are watched and reconciled (a shard). */
  labelSelector?: string | undefined;
  /** Objects that render and apply at the same time share kubectl processes; false runs one per object. */
  batch?: BatchOptions | false | undefined;
}

/** How long a change of a child waits for the changes that follow it before its owner is reconciled (ms). */
export const CHILD_SETTLE_MS = 500;

/**
 * The most objects whose children's states (each child's last one) are held for their next reconcile (see
 * Controller.brought); past that, a reconcile reads its children. A Deployment with its managedFields is a few kB.
 */
export const BROUGHT_HELD = 256;

/** A queue key names the operator and the object; the uid tells a re-created namesake apart. */
function keyOf(operator: string, obj: { namespace?: string | undefined; name: string; uid?: string | undefined }): string {
  return JSON.stringify([operator, obj.namespace ?? '', obj.name, obj.uid ?? '']);
}

const objectKey = (operator: string, obj: KubeObject) => keyOf(operator, obj.metadata);

/**
 * The owner a child belongs to (namespaced children only): its controller ownerReference to the operator's kind,
 * or, for a retained child (one that outlives its owner, so it has no ownerReference), the owner it names in its
 * instance label and owner-uid annotation. The child watch selects on the owner-kind label, so the kind is right.
 */
export function ownerKey(operator: Operator<any>, child: KubeObject): string | undefined {
  const { group, version, kind } = operator.resource;
  const { namespace, ownerReferences, labels, annotations } = child.metadata;
  if (!namespace) return undefined;
  const ref = (ownerReferences ?? []).find((r) => r.controller === true && r.kind === kind && r.apiVersion === `${group}/${version}`);
  if (ref) return keyOf(operator.name, { namespace, name: String(ref.name), uid: String(ref.uid) });
  const name = labels?.[INSTANCE_LABEL];
  const uid = annotations?.[OWNER_UID_ANNOTATION];
  return name && uid ? keyOf(operator.name, { namespace, name, uid }) : undefined;
}

/** The uid part of a queue key. */
const uidOfKey = (key: string): string => (JSON.parse(key) as string[])[3]!;

function parseKey(key: string): { operator: string; target: Target } {
  const [operator, namespace, name, uid] = JSON.parse(key) as [string, string, string, string];
  return { operator, target: { namespace: namespace || undefined, name, uid } };
}

/** Runs operators until stop(): watches, queues by object, reconciles. */
export class Controller {
  private readonly opts: ControllerOptions;
  private readonly watchers: Watcher[] = [];
  private readonly listed = new Set<Watcher>();
  private readonly queue: WorkQueue;
  private readonly reconcilers = new Map<string, Reconciler>();
  private readonly discovery: Discovery;
  /** Children watched, by operator and kind; they only wake their owners, and cost no kubectl run. */
  private readonly childWatches = new Map<string, Watcher[]>();
  private stopped = false;
  /** Aborted when the grace period is over, or at once when the lease is lost: running kubectl is killed. */
  private readonly cancel = new AbortController();
  private readonly batcher: KubectlBatcher | undefined;
  /**
   * The object each waiting key was last woken by, as the watch stream brought it: its reconcile may start from it
   * with no GET, as controller-runtime's reconcilers start from its informer cache. Held only until the key's
   * reconcile starts. A (re)list's objects are not held: a list of thousands would keep them all at once.
   */
  private readonly woken = new Map<string, KubeObject>();
  /**
   * The children's states their watches brought since each waiting key's last reconcile started (by key, then by
   * child), held until its next one starts, for at most BROUGHT_HELD keys at once: a burst's worth, not every object.
   */
  private readonly brought = new Map<string, Map<string, KubeObject>>();
  /** Which child states the watches brought, in order; shared with the reconcilers. */
  private readonly childStates = new ChildStates();

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.discovery = new Discovery(opts.api);
    const batch = opts.batch === false ? undefined : (opts.batch ?? DEFAULT_BATCH);
    this.batcher = batch && new KubectlBatcher({ kubectl: opts.kubectl, signal: this.cancel.signal, active: () => this.queue.joinable, lend: () => this.queue.lend() }, batch);
    this.queue = new WorkQueue((key) => this.work(key), {
      concurrency: opts.concurrency,
      // A reconcile waiting for a shared kubectl process lets another start, up to a full batch of them: a burst
      // fills batches while the reconciles holding a slot stay at `concurrency`. (Those whose kubectl run has ended
      // wait for a slot again, and cannot join a batch: a batch does not wait for them.)
      maxLent: batch?.max ?? 0,
      // Errors outside steps (API unreachable, a write refused): logged, retried with backoff, never a crash.
      onError: (key, err, retryInMs) => {
        const { operator, target } = parseKey(key);
        opts.logger.error({ err, operator, namespace: target.namespace, name: target.name, retryInMs }, 'reconcile failed');
      },
      // The object is gone: its reconciler forgets it too, so memory never grows with deleted objects.
      onForgotten: (key) => {
        this.woken.delete(key);
        this.brought.delete(key);
        const { operator, target } = parseKey(key);
        this.reconcilers.get(operator)?.gone(target.uid);
      },
    });
  }

  /** Every watch has listed at least once: the controller has seen the whole current state. */
  get synced(): boolean {
    return this.watchers.length > 0 && this.listed.size === this.watchers.length;
  }

  private async work(key: string): Promise<number | undefined> {
    const { operator, target } = parseKey(key);
    const fromWatch = this.woken.get(key);
    const children = this.brought.get(key);
    this.woken.delete(key);
    this.brought.delete(key);
    const stop = this.opts.metrics?.reconcileSeconds.startTimer({ operator });
    try {
      const watched = this.watchers.map((w) => w.resourceVersionOf(target.uid)).find((rv) => rv !== undefined);
      const again = await this.reconcilers.get(operator)!.reconcile(target, { fromWatch, watched, children });
      this.opts.metrics?.reconciles.inc({ operator, result: 'ok' });
      return again;
    } catch (err) {
      this.opts.metrics?.reconciles.inc({ operator, result: 'error' });
      throw err;
    } finally {
      stop?.();
    }
  }

  start(): void {
    const { api, operators, logger, metrics } = this.opts;
    // Read at each scrape: the queue changes at every step, and a value set at some of them goes stale between.
    metrics?.queueDepth.readFrom(() => this.queue.depth);
    metrics?.queueRunning.readFrom(() => this.queue.running);
    metrics?.queueLent.readFrom(() => this.queue.lending);
    for (const operator of operators) {
      this.reconcilers.set(
        operator.name,
        new Reconciler({
          api,
          operator,
          events: createEventRecorder(api, (err) => logger.warn({ err }, 'could not record an Event')),
          logger: logger.child({ operator: operator.name }),
          kubectl: this.opts.kubectl,
          batcher: this.batcher,
          basesDir: this.opts.basesDir,
          keepWorkdirs: this.opts.keepWorkdirs ?? false,
          signal: this.cancel.signal,
          discovery: this.discovery,
          drift: this.opts.drift,
          healthTimeoutMs: this.opts.healthTimeoutMs,
          childStates: this.childStates,
          onChildren: (entries) => this.watchChildren(operator, entries),
          onStep: (o) => {
            metrics?.handlers.inc({ operator: o.operator, handler: o.handler, cause: o.cause, result: o.ok ? 'ok' : 'error' });
            metrics?.handlerSeconds.observe({ operator: o.operator, handler: o.handler }, o.durationMs / 1000);
            if (!o.ok) metrics?.handlerErrors.inc({ operator: o.operator, handler: o.handler });
          },
        }),
      );
      const scope = this.opts.namespaces;
      for (const ns of scope.watch.length ? scope.watch : [undefined]) {
        const path = resourcePath(operator.resource, ns);
        const watcher: Watcher = new Watcher({
          api,
          path,
          // With a label selector the API server sends DELETED once an object stops matching, e.g. moved to another shard.
          ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
          relistIntervalMs: this.opts.relistIntervalMs ?? 0,
          onEvent: (type, object, listed) => {
            if (!scope.accepts(object.metadata.namespace)) return;
            // The echo of our own write wakes nothing; a (re)list always does: it is the level-triggered safety net.
            const key = objectKey(operator.name, object);
            const wake = () => {
              if (listed) this.woken.delete(key);
              else this.woken.set(key, object);
              this.queue.add(key);
            };
            // A deletion ends the key for good; anything else wakes it.
            if (type === 'DELETED') {
              this.woken.delete(key);
              this.queue.forget(key);
            } else if (type === 'MODIFIED' && !listed) this.reconcilers.get(operator.name)!.unlessOwnWrite(object, wake);
            else wake();
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

  /** Starts a watch on each kind of child not watched yet for this operator (in its namespaces). */
  private watchChildren(operator: Operator<any>, entries: InventoryEntry[]): void {
    for (const { apiVersion, kind } of entries) {
      const id = `${operator.name}|${apiVersion}|${kind}`;
      if (this.stopped || this.childWatches.has(id)) continue;
      const watchers: Watcher[] = [];
      this.childWatches.set(id, watchers);
      // A kind discovery does not know (yet), or discovery failing: forget the attempt, the next reconcile asks again.
      const retry = (why: string) => {
        this.childWatches.delete(id);
        this.opts.logger.warn({ operator: operator.name, apiVersion, kind, why }, 'cannot watch children of this kind yet');
      };
      void this.startChildWatch(operator, apiVersion, kind, watchers).then(
        (started) => started || retry('not served'),
        (err) => retry((err as Error).message),
      );
    }
  }

  /**
   * Which object a child wakes: a namespaced child names its owner (ownerReference, or labels and the owner-uid
   * annotation); a cluster-scoped one, which cannot reference a namespaced owner, names only its uid (annotation),
   * and the owners' own watches know where that object is. Only owners this controller watches: another shard's
   * children, or another namespace's, wake nothing here.
   */
  private childOwnerKey(operator: Operator<any>, child: KubeObject): string | undefined {
    const scope = this.opts.namespaces;
    if (child.metadata.namespace) {
      const key = scope.accepts(child.metadata.namespace) ? ownerKey(operator, child) : undefined;
      return key && this.watchers.some((w) => w.has(uidOfKey(key))) ? key : undefined;
    }
    const uid = child.metadata.annotations?.[OWNER_UID_ANNOTATION];
    const owner = uid ? this.watchers.map((w) => w.find(uid)).find((o) => o !== undefined) : undefined;
    return uid && owner?.namespace && scope.accepts(owner.namespace) ? keyOf(operator.name, { namespace: owner.namespace, name: owner.name, uid }) : undefined;
  }

  /** False when the kind is not served. A cluster-scoped kind has one watch; a namespaced one, one per namespace watched. */
  private async startChildWatch(operator: Operator<any>, apiVersion: string, kind: string, watchers: Watcher[]): Promise<boolean> {
    const ref = await this.discovery.resourceFor(apiVersion, kind);
    if (!ref) return false;
    if (this.stopped) return true;
    const { group, version } = operator.resource;
    const scope = this.opts.namespaces;
    for (const ns of ref.namespaced && scope.watch.length ? scope.watch : [undefined]) {
      const watcher = new Watcher({
        api: this.opts.api,
        path: resourcePath(ref, ns),
        // Only what kustomate rendered for this operator's kind; its own relist is the safety net, not this one's.
        labelSelector: `${OWNER_KIND_LABEL}=${ownerKindLabelValue({ apiVersion: `${group}/${version}`, kind: operator.resource.kind })}`,
        relistIntervalMs: 0,
        onEvent: (type, child) => {
          this.childStates.observe(type, child);
          const key = this.childOwnerKey(operator, child);
          if (!key) return;
          // A deleted child is repaired at once. Other changes come in quick runs (a Deployment's status follows its
          // ReplicaSet and Pods one write at a time): the owner wakes once, a moment after the first of them.
          if (type === 'DELETED') {
            this.brought.get(key)?.delete(keyOfChild(child));
            this.queue.add(key);
          } else {
            this.bring(key, child);
            this.queue.addAfter(key, CHILD_SETTLE_MS);
          }
        },
        onError: (err, retryInMs) => this.opts.logger.warn({ err: (err as Error).message, operator: operator.name, kind, retryInMs }, 'child watch failed; retrying'),
      });
      watchers.push(watcher);
      watcher.start();
    }
    return true;
  }

  /** Holds a child's state as its watch brought it for its owner's next reconcile (see `brought`). */
  private bring(key: string, child: KubeObject): void {
    let held = this.brought.get(key);
    if (!held) {
      if (this.brought.size >= BROUGHT_HELD) return;
      held = new Map();
      this.brought.set(key, held);
    }
    held.set(keyOfChild(child), child);
  }

  /** Cancels running steps (their kubectl is killed) and writes nothing more; stop() still has to be called. */
  cancelNow(): void {
    this.cancel.abort();
  }

  /**
   * Stops watching and taking work, and waits for running reconciles. After `graceMs` (at once with 0) their
   * kubectl runs are cancelled, and they end without writing anything. Resolves once every one has ended.
   */
  async stop(graceMs = 30_000): Promise<void> {
    if (graceMs <= 0) this.cancel.abort();
    this.stopped = true;
    const watchers = Promise.all([...this.watchers, ...[...this.childWatches.values()].flat()].map((w) => w.stop()));
    const drained = this.queue.stop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    if (graceMs > 0 && (await Promise.race([drained.then(() => 'done' as const), late])) === 'late') {
      this.opts.logger.warn({ graceMs }, 'grace period over: cancelling running kubectl commands');
    }
    clearTimeout(timer);
    this.cancel.abort();
    await Promise.all([drained, watchers]);
  }
}
