// Why: our own list+watch loop; the client-node informer stops for good on most errors.
// It knows nothing of handlers: it emits objects and a "listed" marker, and never exits the process.
import { ApiError, type Api, type KubeObject } from '../kube/api.ts';
import { DEFAULT_BACKOFF, backoffDelay, sleep as realSleep, type BackoffPolicy } from './backoff.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatcherOptions {
  api: Api;
  /** Collection path, e.g. /apis/nuvolaris.org/v1/namespaces/demo/samples. */
  path: string;
  /** Only objects matching this label selector are listed and watched. */
  labelSelector?: string;
  /** `listed`: the event comes from a (re)list, not from the watch stream. */
  onEvent: (type: WatchEventType, object: KubeObject, listed: boolean) => void;
  /** After every successful list: all objects present then have been emitted. */
  onListed?: () => void;
  onError?: (err: unknown, retryInMs: number) => void;
  /** Reconnect when neither an event nor a bookmark arrived for this long. */
  stallMs?: number;
  /** Relist everything this often, as a level-triggered safety net; 0 disables. */
  relistIntervalMs?: number;
  /** Server-side watch timeout; the server closes the stream after it and we resume from the last version. */
  watchTimeoutSeconds?: number;
  backoff?: BackoffPolicy;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

interface WatchLine {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number; message?: string; reason?: string };
}

/** Objects per list request: a relist of thousands holds a page of them at a time, not all. */
export const LIST_PAGE = 250;

interface ObjectList {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion: string; continue?: string };
  items: KubeObject[];
}

/** List, then watch from the list's resourceVersion; relist on 410 Gone; back off on errors. */
export class Watcher {
  private readonly opts: Required<Omit<WatcherOptions, 'onListed' | 'onError' | 'labelSelector'>> & Pick<WatcherOptions, 'onListed' | 'onError' | 'labelSelector'>;
  private readonly stopper = new AbortController();
  private current?: AbortController | undefined;
  private resourceVersion?: string | undefined;
  /** What each object seen is, as little as tells a deletion missed while not watching (not whole objects). */
  private readonly known = new Map<string, KubeObject>();
  private failures = 0;
  private loop?: Promise<void>;
  private relistTimer?: ReturnType<typeof setInterval>;

  constructor(opts: WatcherOptions) {
    this.opts = {
      stallMs: 5 * 60_000,
      relistIntervalMs: 0,
      watchTimeoutSeconds: 290,
      backoff: DEFAULT_BACKOFF,
      sleep: realSleep,
      ...opts,
    };
  }

  start(): void {
    if (this.loop) return;
    if (this.opts.relistIntervalMs > 0) {
      this.relistTimer = setInterval(() => this.relist(), this.opts.relistIntervalMs);
      this.relistTimer.unref?.();
    }
    this.loop = this.run();
  }

  /** Drop the resume point and reconnect: the next pass lists everything again. */
  relist(): void {
    this.resourceVersion = undefined;
    this.current?.abort();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    this.current?.abort();
    if (this.relistTimer) clearInterval(this.relistTimer);
    await this.loop;
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) await this.list();
        const started = Date.now();
        const lines = await this.watch();
        if (lines > 0 || Date.now() - started > 1_000) this.failures = 0;
        // A stream that closes at once and empty, again and again, must not become a hot loop.
        else if (!this.stopped && this.resourceVersion !== undefined) await this.opts.sleep(backoffDelay(this.failures++, this.opts.backoff), this.stopper.signal);
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof ApiError && err.status === 410) {
          // 410 Gone: our resourceVersion was compacted away; relist (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes).
          this.resourceVersion = undefined;
          continue;
        }
        const delay =
          err instanceof ApiError && err.status === 429 && err.retryAfterSeconds !== undefined
            ? err.retryAfterSeconds * 1000
            : backoffDelay(this.failures++, this.opts.backoff);
        this.opts.onError?.(err, delay);
        await this.opts.sleep(delay, this.stopper.signal);
      }
    }
  }

  /**
   * Lists in pages of LIST_PAGE (https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks):
   * every page is part of one consistent snapshot, and only one page's JSON is in memory at a time. A continue token
   * that expired is a 410 Gone, and the whole list starts again.
   */
  private async list(): Promise<void> {
    const seen = new Set<string>();
    let list: ObjectList | undefined;
    do {
      const query = { labelSelector: this.opts.labelSelector, limit: LIST_PAGE, continue: list?.metadata.continue };
      list = await this.opts.api.request<ObjectList>('GET', this.opts.path, { query, signal: this.stopper.signal });
      // A list's items carry no apiVersion and kind: the list says them (a DeploymentList holds Deployments).
      const apiVersion = list.apiVersion;
      const kind = list.kind?.replace(/List$/, '');
      for (const item of list.items) {
        if (apiVersion && kind) {
          item.apiVersion ||= apiVersion;
          item.kind ||= kind;
        }
        const uid = item.metadata.uid ?? `${item.metadata.namespace}/${item.metadata.name}`;
        seen.add(uid);
        const before = this.known.get(uid);
        this.known.set(uid, stub(item));
        this.opts.onEvent(before ? 'MODIFIED' : 'ADDED', item, true);
      }
    } while (list.metadata.continue);
    // Objects deleted while we were not watching: their DELETED event was never seen.
    for (const [uid, obj] of this.known) {
      if (!seen.has(uid)) {
        this.known.delete(uid);
        this.opts.onEvent('DELETED', obj, true);
      }
    }
    this.resourceVersion = list.metadata.resourceVersion;
    this.failures = 0;
    this.opts.onListed?.();
  }

  /** One watch connection; returns how many lines it received. */
  private async watch(): Promise<number> {
    const ctrl = new AbortController();
    this.current = ctrl;
    const onStop = () => ctrl.abort();
    this.stopper.signal.addEventListener('abort', onStop, { once: true });
    let stall: ReturnType<typeof setTimeout> | undefined;
    const resetStall = () => {
      if (stall) clearTimeout(stall);
      stall = setTimeout(() => ctrl.abort(), this.opts.stallMs);
      stall.unref?.();
    };
    let received = 0;
    try {
      resetStall();
      const lines = await this.opts.api.stream(this.opts.path, {
        query: {
          labelSelector: this.opts.labelSelector,
          watch: 1,
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: this.opts.watchTimeoutSeconds,
        },
        signal: ctrl.signal,
      });
      for await (const line of lines) {
        resetStall();
        received++;
        if (line.trim() === '') continue;
        this.handle(JSON.parse(line) as WatchLine);
      }
    } catch (err) {
      // An abort we caused (stall, relist, stop) is a reconnect, not an error.
      if (!ctrl.signal.aborted) throw err;
    } finally {
      if (stall) clearTimeout(stall);
      this.stopper.signal.removeEventListener('abort', onStop);
      this.current = undefined;
    }
    return received;
  }

  /** Whether this watch has seen the object with this uid (and not its deletion). */
  has(uid: string): boolean {
    return this.known.has(uid);
  }

  /** The resourceVersion of the object with this uid as this watch last brought it (undefined after its deletion). */
  resourceVersionOf(uid: string): string | undefined {
    return this.known.get(uid)?.metadata.resourceVersion;
  }

  /** Where the object with this uid is (its name and namespace, as last seen), when this watch has seen it. */
  find(uid: string): { name: string; namespace?: string | undefined } | undefined {
    const found = this.known.get(uid);
    return found && { name: found.metadata.name, namespace: found.metadata.namespace };
  }

  private handle(ev: WatchLine): void {
    if (ev.type === 'ERROR') {
      // A Status object inside the stream; 410 here means "too old resource version" just as the HTTP status does.
      throw new ApiError(ev.object.code ?? 500, `watch error: ${ev.object.message ?? 'unknown'}`, ev.object.reason);
    }
    this.resourceVersion = ev.object.metadata.resourceVersion ?? this.resourceVersion;
    if (ev.type === 'BOOKMARK') return;
    const uid = ev.object.metadata.uid ?? `${ev.object.metadata.namespace}/${ev.object.metadata.name}`;
    if (ev.type === 'DELETED') this.known.delete(uid);
    else this.known.set(uid, stub(ev.object));
    this.opts.onEvent(ev.type, ev.object, false);
  }
}

/** The identity of an object, and who owns it: enough for a DELETED event found by a relist. */
function stub(obj: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion, ownerReferences, labels } = obj.metadata;
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name, namespace, uid, resourceVersion, ownerReferences, labels } };
}
