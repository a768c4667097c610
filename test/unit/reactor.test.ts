import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { resourcePath, type KubeObject } from '../../src/kube/api.ts';
import type { KubectlResult, KubectlRunner } from '../../src/kubectl/runner.ts';
import { DEFAULT_BASES_DIR } from '../../src/cli/paths.ts';
import { LAST_HANDLED_ANNOTATION } from '../../src/runtime/essence.ts';
import { createEventRecorder } from '../../src/runtime/events.ts';
import { FINALIZER } from '../../src/runtime/finalizer.ts';
import { Reactor } from '../../src/runtime/reactor.ts';
import { StatusWriter, type Condition } from '../../src/runtime/status.ts';
import { sample } from '../../src/operators/sample/index.ts';
import { FakeApi } from './fake-api.ts';

const ref = sample.resource;
const path = resourcePath(ref, 'demo', 'obj');

/** A kubectl stand-in that answers from a list of exit codes and records every call. */
function fakeKubectl(exits: number[]) {
  const calls: string[][] = [];
  const run: KubectlRunner = async (args) => {
    calls.push(args);
    const exitCode = exits.length ? exits.shift()! : 0;
    const result: KubectlResult = {
      command: ['kubectl', ...args],
      exitCode,
      stdout: exitCode === 0 ? 'deployment.apps/obj-demo-deploy configured' : '',
      stderr: exitCode === 0 ? '' : 'error: accumulating resources: broken base',
      durationMs: 1,
      timedOut: false,
    };
    return result;
  };
  return { run, calls };
}

function setup(exits: number[] = [], spec: unknown = { count: 2 }) {
  const api = new FakeApi();
  let now = 1_000_000;
  const kubectl = fakeKubectl(exits);
  const reactor = new Reactor({
    api,
    operator: sample,
    status: new StatusWriter(api, ref, () => new Date(now)),
    events: createEventRecorder(api, () => {}),
    logger: pino({ level: 'silent' }),
    kubectl: kubectl.run,
    basesDir: DEFAULT_BASES_DIR,
    backoff: { baseMs: 1_000, maxMs: 60_000, factor: 2, jitter: 0 },
    now: () => now,
  });
  api.put(path, { apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: 'obj', namespace: 'demo', uid: 'u1' }, spec } as KubeObject);
  return { api, reactor, kubectl, advance: (ms: number) => (now += ms), current: () => api.get(path)! };
}

const ready = (o: KubeObject) => (o.status?.conditions as Condition[] | undefined)?.find((c) => c.type === 'Ready');

describe('reactor', () => {
  it('on create: adds the finalizer, applies, stores kubectl output at status.sample_create and sets Ready=True', async () => {
    const { reactor, kubectl, current, api } = setup();
    expect(await reactor.reconcile(current())).toBeUndefined();
    const o = current();
    expect(o.metadata.finalizers).toEqual([FINALIZER]);
    expect(kubectl.calls).toEqual([['apply', '-k', expect.stringContaining('kustomate-')]]);
    expect(o.status?.sample_create).toEqual({ message: 'deployment.apps/obj-demo-deploy configured' });
    expect(ready(o)).toMatchObject({ status: 'True', reason: 'Succeeded', observedGeneration: 1 });
    expect(JSON.parse(o.metadata.annotations![LAST_HANDLED_ANNOTATION]!)).toEqual({ spec: { count: 2 } });
    expect(api.events.map((e) => e.reason)).toEqual(['Created']);
  });

  it('does nothing when only status or metadata noise changed', async () => {
    const { reactor, kubectl, current } = setup();
    await reactor.reconcile(current());
    await reactor.reconcile(current());
    expect(kubectl.calls).toHaveLength(1);
  });

  it('re-applies when spec.count changes, storing the result at status.sample_update', async () => {
    const { reactor, kubectl, current, api } = setup();
    await reactor.reconcile(current());
    await api.request('PATCH', path, { body: { spec: { count: 3 } }, contentType: 'application/merge-patch+json' });
    await reactor.reconcile(current());
    expect(kubectl.calls).toHaveLength(2);
    expect(current().status?.sample_update).toBeDefined();
    expect(ready(current())).toMatchObject({ status: 'True', observedGeneration: 2 });
  });

  it('never takes a failed kubectl run for success: Ready=False with stderr, retried with growing delays, then recovers', async () => {
    const { reactor, kubectl, current, advance, api } = setup([1, 1, 1, 0]);
    const delays = [];
    delays.push(await reactor.reconcile(current()));
    expect(ready(current())).toMatchObject({ status: 'False', reason: 'ApplyFailed', message: expect.stringContaining('broken base') });
    // An event for our own status write arrives before the delay: no new attempt.
    expect(await reactor.reconcile(current())).toBe(1_000);
    expect(kubectl.calls).toHaveLength(1);
    advance(1_000);
    delays.push(await reactor.reconcile(current()));
    advance(2_000);
    delays.push(await reactor.reconcile(current()));
    advance(4_000);
    delays.push(await reactor.reconcile(current()));
    expect(delays).toEqual([1_000, 2_000, 4_000, undefined]);
    expect(ready(current())).toMatchObject({ status: 'True' });
    expect(api.events.map((e) => `${e.type}/${e.reason}`)).toEqual(['Warning/ApplyFailed', 'Warning/ApplyFailed', 'Warning/ApplyFailed', 'Normal/Created']);
  });

  it('reports an invalid spec once, with Ready=False/InvalidSpec, Stalled and an Event, and no retry', async () => {
    const { reactor, kubectl, current, api } = setup([], { count: 'many' });
    expect(await reactor.reconcile(current())).toBeUndefined();
    expect(await reactor.reconcile(current())).toBeUndefined();
    expect(kubectl.calls).toHaveLength(0);
    const conditions = current().status?.conditions as Condition[];
    expect(conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: expect.stringContaining('spec.count') });
    expect(conditions.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True' });
    expect(api.events).toHaveLength(1);
    expect(current().metadata.finalizers).toBeUndefined();
  });

  it('on delete: runs delete -k, then removes only its own finalizer', async () => {
    const { reactor, kubectl, current, api } = setup();
    await reactor.reconcile(current());
    const o = api.objects.get(path)!;
    o.metadata.finalizers = ['other.io/keep', ...o.metadata.finalizers!];
    o.metadata.deletionTimestamp = new Date().toISOString();
    await reactor.reconcile(current());
    expect(kubectl.calls.at(-1)).toEqual(['delete', '-k', expect.any(String), '--ignore-not-found']);
    expect(current().metadata.finalizers).toEqual(['other.io/keep']);
  });

  it('keeps the finalizer while delete -k fails, and says so in status', async () => {
    const { reactor, current, api } = setup();
    await reactor.reconcile(current());
    const { run } = fakeKubectl([1]);
    const failing = new Reactor({
      api,
      operator: sample,
      status: new StatusWriter(api, ref),
      events: createEventRecorder(api, () => {}),
      logger: pino({ level: 'silent' }),
      kubectl: run,
      basesDir: DEFAULT_BASES_DIR,
    });
    api.objects.get(path)!.metadata.deletionTimestamp = new Date().toISOString();
    expect(await failing.reconcile(current())).toBeGreaterThan(0);
    expect(current().metadata.finalizers).toEqual([FINALIZER]);
    expect(ready(current())).toMatchObject({ status: 'False', reason: 'DeleteFailed' });
  });
});
