// Why: Lease-based leader election (coordination.k8s.io/v1), so replicas > 1 is safe: only the leader reconciles.
// It follows client-go's leaderelection: expiry is judged by when *we* last saw the record change, not by
// comparing the holder's clock with ours (https://pkg.go.dev/k8s.io/client-go/tools/leaderelection).
//
// Guarantees:
// - A leader that has not renewed for renewDeadline stops leading (onStoppedLeading) at that moment, even while a
//   request to the API server hangs: every lease request is bounded by what is left of the deadline.
// - renewDeadline < leaseDuration: a standby takes over only after leaseDuration without a renewal it can see, so
//   the old leader has stopped (leaseDuration - renewDeadline, 5 s by default) before a new one starts.
// - Writes are guarded by resourceVersion: two candidates racing for a free lease get one winner.
// Caveats:
// - It relies on clocks advancing at similar rates, not on synchronized clocks. A process paused for longer than
//   the margin (a SIGSTOP, a frozen VM) may still believe it leads for a moment after it wakes.
// - What the leader does with its work must stop when told: kustomate cancels running kubectl at once.
import type { Logger } from 'pino';
import { ApiError, type Api } from '../kube/api.ts';
import { sleep as realSleep } from './backoff.ts';

export interface LeaderElectionOptions {
  api: Api;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  /** A leader that cannot renew for this long stops leading. Shorter than the lease duration. */
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  /** While this says no, a candidate does not try to take the lease (its last term has not fully stopped). */
  mayAcquire?: () => boolean;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** MicroTime wants six fractional digits (metav1.RFC3339Micro). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly o: Required<LeaderElectionOptions>;
  private readonly stopper = new AbortController();
  private leading = false;
  private lastRenew = 0;
  private observedRecord = '';
  private observedAt = 0;
  private loop?: Promise<void>;

  constructor(opts: LeaderElectionOptions) {
    this.o = { now: Date.now, sleep: realSleep, mayAcquire: () => true, ...opts };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.o.namespace)}/leases`;
  }

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopper.signal.aborted) {
      // A leader's round may take only what is left of its renew deadline; a candidate's, one renew deadline.
      const budget = this.leading ? this.lastRenew + this.o.renewDeadlineMs - this.o.now() : this.o.renewDeadlineMs;
      let ok = false;
      // Counted from the round's start: the renewal may have reached the API server at any moment of the round.
      const started = this.o.now();
      if (budget > 0 && (this.leading || this.o.mayAcquire())) {
        const round = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(budget)]);
        try {
          ok = await this.tryAcquireOrRenew(round);
        } catch (err) {
          this.o.logger.warn({ err: (err as Error).message }, 'leader election: lease request failed');
        }
      }
      if (this.stopper.signal.aborted) break;
      const now = this.o.now();
      if (ok) {
        this.lastRenew = started;
        if (!this.leading) {
          this.leading = true;
          this.o.logger.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'became the leader');
          this.o.onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenew >= this.o.renewDeadlineMs) {
        this.leading = false;
        this.o.logger.warn({ lease: `${this.o.namespace}/${this.o.name}` }, 'lost the lease; stopping work');
        this.o.onStoppedLeading();
      }
      // A leader never sleeps past its deadline: it must notice a missed renewal in time.
      const pause = this.leading ? Math.min(this.o.retryPeriodMs, Math.max(0, this.lastRenew + this.o.renewDeadlineMs - this.o.now())) : this.o.retryPeriodMs;
      await this.o.sleep(pause, this.stopper.signal);
    }
  }

  /** One round: create, renew, or take over an expired or released lease. True when we hold it after. */
  async tryAcquireOrRenew(signal?: AbortSignal): Promise<boolean> {
    const now = this.o.now();
    const me = this.o.identity;
    let lease: Lease;
    try {
      lease = await this.o.api.request<Lease>('GET', `${this.path}/${encodeURIComponent(this.o.name)}`, { signal, urgent: true });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
      try {
        await this.o.api.request('POST', this.path, {
          signal,
          urgent: true,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.o.name, namespace: this.o.namespace },
            spec: { holderIdentity: me, leaseDurationSeconds: Math.ceil(this.o.leaseDurationMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
          },
        });
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) return false;
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const record = `${holder}|${spec.renewTime ?? ''}`;
    // When we saw the record: after the GET returned, so a slow GET never makes the lease look older than it is.
    const seen = this.o.now();
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = seen;
    }
    const duration = (spec.leaseDurationSeconds ?? Math.ceil(this.o.leaseDurationMs / 1000)) * 1000;
    if (holder !== '' && holder !== me && this.observedAt + duration > seen) return false;

    const next: LeaseSpec = {
      holderIdentity: me,
      leaseDurationSeconds: Math.ceil(this.o.leaseDurationMs / 1000),
      acquireTime: holder === me && spec.acquireTime ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: holder === me ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
    };
    try {
      // PUT with the resourceVersion we read: a concurrent writer makes it fail with 409 instead of both winning.
      await this.o.api.request('PUT', `${this.path}/${encodeURIComponent(this.o.name)}`, { signal, urgent: true, body: { ...lease, spec: next } });
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) return false;
      throw err;
    }
    this.observedRecord = `${me}|${next.renewTime}`;
    this.observedAt = now;
    return true;
  }

  /** Stops the loop; a leader gives the lease up at once (holder emptied), so another can take it now. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.o.api.request<Lease>('GET', `${this.path}/${encodeURIComponent(this.o.name)}`, { urgent: true });
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      const now = microTime(this.o.now());
      await this.o.api.request('PUT', `${this.path}/${encodeURIComponent(this.o.name)}`, {
        urgent: true,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } },
      });
      this.o.logger.info({ lease: `${this.o.namespace}/${this.o.name}` }, 'released the lease');
    } catch (err) {
      this.o.logger.warn({ err }, 'could not release the lease; it expires by itself');
    }
  }
}
