import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ApiError, type Api, type RequestOptions } from '../../src/kube/api.ts';
import { LeaderElector, microTime, type LeaderElectionOptions } from '../../src/runtime/leader.ts';

/** A Lease store with resourceVersion checks, shared by several electors as the API server would be. */
class LeaseApi implements Api {
  lease: any;
  private rv = 0;
  async request<T>(method: string, _path: string, opts: RequestOptions = {}): Promise<T> {
    const body = opts.body as any;
    if (method === 'GET') {
      if (!this.lease) throw new ApiError(404, 'not found');
      return structuredClone(this.lease);
    }
    if (method === 'POST') {
      if (this.lease) throw new ApiError(409, 'exists');
      this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
      return structuredClone(this.lease);
    }
    if (method === 'PUT') {
      if (body.metadata.resourceVersion !== this.lease.metadata.resourceVersion) throw new ApiError(409, 'conflict');
      this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
      return structuredClone(this.lease);
    }
    throw new Error(method);
  }
  async stream(): Promise<AsyncIterable<string>> {
    throw new Error('no streams');
  }
}

function elector(api: Api, identity: string, clock: { now: number } | undefined, events: string[], more: Partial<LeaderElectionOptions> = {}) {
  return new LeaderElector({
    api,
    namespace: 'ns',
    name: 'lease',
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    logger: pino({ level: 'silent' }),
    onStartedLeading: () => events.push(`${identity} leads`),
    onStoppedLeading: () => events.push(`${identity} stops`),
    ...(clock ? { now: () => clock.now } : {}),
    ...more,
  });
}

describe('leader election', () => {
  it('lets one identity hold the lease; another takes it only after it expires unrenewed', async () => {
    const api = new LeaseApi();
    const clock = { now: 1_000_000 };
    const a = elector(api, 'a', clock, []);
    const b = elector(api, 'b', clock, []);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.now += 10_000;
    expect(await a.tryAcquireOrRenew()).toBe(true); // renewed
    clock.now += 10_000;
    expect(await b.tryAcquireOrRenew()).toBe(false); // b saw a renewal 0 s ago (its own clock)
    clock.now += 14_000;
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.now += 2_000;
    expect(await b.tryAcquireOrRenew()).toBe(true); // 16 s without a change: expired
    expect(api.lease.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1, leaseDurationSeconds: 15 });
  });

  it('stops leading by the renew deadline when a renewal hangs, instead of waiting for the request to time out', async () => {
    const api = new LeaseApi();
    const events: string[] = [];
    const a = elector(api, 'a', undefined, events, { leaseDurationMs: 900, renewDeadlineMs: 600, retryPeriodMs: 100 });
    a.start();
    while (!a.isLeader) await new Promise((r) => setTimeout(r, 5));
    // From now on every request hangs until its caller gives up (an API server that stopped answering).
    const hung = Date.now();
    api.request = (_m, _p, opts = {}) =>
      new Promise((_, reject) => opts.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    while (a.isLeader) await new Promise((r) => setTimeout(r, 5));
    const stoppedAt = Date.now();
    expect(events).toEqual(['a leads', 'a stops']);
    expect(stoppedAt - hung).toBeLessThan(600 + 100);
    await a.stop();
  });

  it('does not take a free lease while its last term has not fully stopped', async () => {
    const api = new LeaseApi();
    let stopped = false;
    const events: string[] = [];
    const a = elector(api, 'a', { now: 0 }, events, { retryPeriodMs: 10, mayAcquire: () => stopped });
    a.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(a.isLeader).toBe(false);
    expect(api.lease).toBeUndefined();
    stopped = true;
    while (!a.isLeader) await new Promise((r) => setTimeout(r, 5));
    await a.stop();
    expect(events).toEqual(['a leads']);
  });

  it('writes MicroTime with six fractional digits', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });

  it('releases the lease on stop, so another takes it at once', async () => {
    const api = new LeaseApi();
    const clock = { now: 0 };
    const events: string[] = [];
    const a = elector(api, 'a', clock, events);
    a.start();
    while (!a.isLeader) await new Promise((r) => setTimeout(r, 5));
    await a.stop();
    expect(api.lease.spec.holderIdentity).toBe('');
    const b = elector(api, 'b', clock, events);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(events).toEqual(['a leads']);
  });

  it('loses two writers racing for a free lease to exactly one winner', async () => {
    const api = new LeaseApi();
    const clock = { now: 0 };
    const results = await Promise.all([elector(api, 'a', clock, []).tryAcquireOrRenew(), elector(api, 'b', clock, []).tryAcquireOrRenew()]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});
