// The reconciler on an in-memory API (one module; the end-to-end suites use the real control plane).
import fs from 'node:fs';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ApiError, resourcePath, type KubeObject, type RequestOptions } from '../../src/kube/api.ts';
import type { KubectlResult, KubectlRunner } from '../../src/kubectl/runner.ts';
import { DEFAULT_BASES_DIR } from '../../src/kustomize/bases.ts';
import { ownerLabels } from '../../src/kustomize/labels.ts';
import { PermanentError, TemporaryError, WaitingError } from '../../src/operator/errors.ts';
import { Operator, type Handler, type HandlerContext } from '../../src/operator/operator.ts';
import { sample } from '../../src/operators/sample/index.ts';
import { ChildStates, keyOfChild } from '../../src/reconcile/child-states.ts';
import type { Condition } from '../../src/reconcile/conditions.ts';
import { createEventRecorder } from '../../src/reconcile/events.ts';
import { FINALIZER } from '../../src/reconcile/finalizer.ts';
import { Reconciler, type ReconcilerDeps } from '../../src/reconcile/reconcile.ts';
import { FakeApi } from './fake-api.ts';

const thing = { group: 'x.io', version: 'v1', plural: 'things', kind: 'Thing' };

const HEALTHY = { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1, readyReplicas: 1 };

/** A Deployment as a server-side apply by kustomate leaves it: owned, labelled, and (unless told) healthy. */
function deployment(owner: Operator<any>, name = 'a-demo-deploy', status: Record<string, unknown> = HEALTHY): KubeObject {
  const apiVersion = `${owner.resource.group}/${owner.resource.version}`;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      labels: ownerLabels({ apiVersion, kind: owner.resource.kind, name: 'a' }).owner,
      annotations: { 'kustomate.io/owner-uid': 'u' },
      ownerReferences: [{ apiVersion, kind: owner.resource.kind, name: 'a', uid: 'u', controller: true }],
      managedFields: [{ manager: 'kustomate', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:replicas': {} } } }],
    } as KubeObject['metadata'],
    spec: { replicas: 1 },
    status,
  };
}

/** Extra kustomization fields: a spec with them is rendered for each work dir, not known from its shape. */
const VARYING = { commonAnnotations: { 'x.io/render': 'varies' } };

const childPath = (name: string) => `/apis/apps/v1/namespaces/ns/deployments/${name}`;
const jobPath = (name: string) => `/apis/batch/v1/namespaces/ns/jobs/${name}`;
/** Where the fake API keeps an applied object: Jobs under batch/v1, anything else as a Deployment. */
const pathOf = (o: KubeObject) => (o.kind === 'Job' ? jobPath(o.metadata.name) : childPath(o.metadata.name));

/**
 * A kubectl stand-in: renders (`kubectl kustomize`) what it would apply, answers applies from a list of exit codes,
 * records every apply and delete (`calls`; renders apart), may act during an apply, and on a successful apply puts
 * what it "applied" into the fake API and prints it as `-o json` does.
 */
function fakeKubectl(exits: number[] = [], during?: () => Promise<void>, applied?: () => KubeObject[]) {
  const calls: string[][] = [];
  const renders: string[][] = [];
  let api: FakeApi | undefined;
  let defaults: () => KubeObject[] = () => [];
  const run: KubectlRunner = async (args) => {
    if (args[0] === 'kustomize') {
      renders.push(args);
      const rendered = (applied ?? defaults)().map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace } }));
      return { command: ['kubectl', ...args], exitCode: 0, stdout: rendered.map((o) => stringify(o)).join('---\n'), stderr: '', durationMs: 1, timedOut: false };
    }
    calls.push(args);
    await during?.();
    const exitCode = exits.length ? exits.shift()! : 0;
    // As the apply left them (resourceVersion and all), as kubectl's -o json prints them.
    const objects = (exitCode === 0 && args[0] === 'apply' ? (applied ?? defaults)() : []).map((o) => api?.put(pathOf(o), o) ?? o);
    const result: KubectlResult = {
      command: ['kubectl', ...args],
      exitCode,
      stdout: args[0] === 'apply' ? JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) : exitCode === 0 ? 'deleted' : '',
      stderr: exitCode === 0 ? '' : 'error: accumulating resources: broken base',
      durationMs: 1,
      timedOut: false,
    };
    return result;
  };
  return { run, calls, renders, bind: (to: FakeApi, owner: Operator<any>) => ((api = to), (defaults = () => [deployment(owner)])) };
}
type FakeKubectl = ReturnType<typeof fakeKubectl>;

/** One object on a fake API, and reconcilers for it: a second one plays a restarted operator. */
function world(operator: Operator<any>, obj: Partial<KubeObject> = {}, kubectl: FakeKubectl = fakeKubectl(), extra: Partial<ReconcilerDeps> = {}) {
  const api = new FakeApi();
  kubectl.bind(api, operator);
  const clock = { now: 1_000_000 };
  const resource = operator.resource;
  const kind = resource.kind;
  const path = resourcePath(resource, 'ns', 'a');
  api.put(path, { apiVersion: `${resource.group}/${resource.version}`, kind, metadata: { name: 'a', namespace: 'ns', uid: 'u' }, spec: { n: 1 }, ...obj } as KubeObject);
  const cancel = new AbortController();
  const reconciler = (more: Partial<ReconcilerDeps> = {}) =>
    new Reconciler({
      api,
      operator,
      events: createEventRecorder(api, () => {}),
      logger: pino({ level: 'silent' }),
      kubectl: kubectl.run,
      basesDir: DEFAULT_BASES_DIR,
      backoff: { baseMs: 1_000, maxMs: 60_000, factor: 2, jitter: 0 },
      now: () => clock.now,
      signal: cancel.signal,
      ...extra,
      ...more,
    });
  const r = reconciler();
  const current = () => api.get(path)!;
  return {
    api,
    clock,
    path,
    cancel,
    reconciler,
    /** `fromWatch`: the object as the watch event that woke the reconcile brought it; `watched`: the resourceVersion of the watch's last event of it. */
    run: (rec = r, fromWatch?: KubeObject, watched?: string) => rec.reconcile({ namespace: 'ns', name: 'a', uid: current().metadata.uid ?? 'u' }, { fromWatch, watched }),
    /** GETs of the object itself. */
    reads: () => api.calls.filter((c) => c.method === 'GET' && c.path === path).length,
    current,
    patch: (body: object) => api.request('PATCH', path, { body, contentType: 'application/merge-patch+json' }),
    statusWrites: () => api.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith('/status')).length,
    /** Runs `fn` while every PATCH goes through but its answer is lost (a timeout, as when the connection drops). */
    losingPatchAnswers: async (fn: () => Promise<unknown>) => {
      const realRequest = api.request.bind(api);
      api.request = (async (method: string, p: string, opts?: RequestOptions) => {
        const result = await realRequest(method, p, opts);
        if (method === 'PATCH') throw new DOMException('the request timed out after 30000 ms', 'TimeoutError');
        return result;
      }) as typeof api.request;
      try {
        await fn();
      } finally {
        api.request = realRequest as typeof api.request;
      }
    },
    metadataWrites: () => api.calls.filter((c) => c.method === 'PATCH' && !c.path.endsWith('/status')).length,
  };
}

/** A Sample whose Deployment is not available yet, after its first reconcile (from its ADDED event): Progressing. */
async function progressing(extra: Partial<ReconcilerDeps> = {}) {
  const unavailable = { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 0 };
  const k = fakeKubectl([], undefined, () => [deployment(sample, 'a-demo-deploy', unavailable)]);
  const w = world(sample, { spec: { count: 2 } }, k, { healthTimeoutMs: 60_000, ...extra });
  const r = w.reconciler();
  expect(await w.run(r, w.current())).toBe(60_000);
  return { k, w, r };
}

const cond = (o: KubeObject, type: string) => (o.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);
const op = () => new Operator({ name: 't', resource: thing });

describe('reconcile: create, update, nothing to do', () => {
  it('on create adds the finalizer, applies, stores kubectl output at status.sample and writes Ready=True once', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 2 } }, k);
    expect(await w.run()).toBeUndefined();
    const o = w.current();
    expect(o.metadata.finalizers).toEqual([FINALIZER]);
    expect(k.calls).toEqual([['apply', '-k', expect.stringContaining('kustomate-'), '--server-side', '--field-manager=kustomate', '--force-conflicts', '-o', 'json', '--show-managed-fields']]);
    expect(o.status?.sample).toEqual({ message: 'deployment.apps/a-demo-deploy serverside-applied' });
    expect(o.status?.sample_create).toBeUndefined();
    expect(cond(o, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded', observedGeneration: 1 });
    expect(o.status?.observedGeneration).toBe(1);
    expect(JSON.parse((o.status?.kustomate as any).lastHandled)).toEqual({ spec: { count: 2 } });
    // The record of what was handled travels in the one status write, never in a metadata patch before it.
    expect(w.statusWrites()).toBe(1);
    expect(w.metadataWrites()).toBe(1); // the finalizer
    expect(w.api.events.map((e) => e.reason)).toEqual(['Created']);
  });

  it("knows the echo of its own writes (the watch need not wake it), and nobody else's change", async () => {
    const w = world(sample, { spec: { count: 2 } });
    const r = w.reconciler();
    await w.run(r);
    expect(w.current().metadata.resourceVersion).toBeDefined();
    expect(r.isOwnWrite(w.current())).toBe(true);
    await w.patch({ spec: { count: 3 } });
    expect(r.isOwnWrite(w.current())).toBe(false);
    // Another reconciler (a restart) wrote nothing yet: everything it sees is news.
    expect(w.reconciler().isOwnWrite(w.current())).toBe(false);
    r.forget('u');
    await w.run(r);
    expect(r.isOwnWrite(w.current())).toBe(true);
  });

  it('starts from the object the watch event brought, with no GET, for its first reconcile', async () => {
    const w = world(sample, { spec: { count: 2 } });
    const r = w.reconciler();
    await w.run(r, w.current());
    expect(w.reads()).toBe(0);
    expect(w.current().status?.sample).toEqual({ message: 'deployment.apps/a-demo-deploy serverside-applied' });
  });

  it('reads the object again after its first reconcile: the event that woke it may be older than its own write', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 2 } }, k);
    const r = w.reconciler();
    // The ADDED event, delivered again after the first reconcile's writes (its answer may come before the event).
    const added = w.current();
    await w.run(r, added);
    expect(k.calls).toHaveLength(1);
    expect(w.reads()).toBe(0);
    const after = w.current();
    await w.run(r, added);
    expect(w.reads()).toBe(1);
    // Read afresh, the object is handled: no second apply, no second finalizer patch, nothing written.
    expect(k.calls).toHaveLength(1);
    expect(w.current().metadata.resourceVersion).toBe(after.metadata.resourceVersion);
  });

  it('starts from what its own last write left, with no GET, while the watch has brought nothing after that write', async () => {
    const { k, w, r } = await progressing();
    const written = w.current();
    expect(cond(written, 'Ready')?.reason).toBe('Progressing');
    // Woken by its child (no object from the watch): the watch's last event of the object is its own status write.
    w.clock.now += 1_000;
    expect(await w.run(r, undefined, written.metadata.resourceVersion)).toBe(59_000);
    expect(w.reads()).toBe(0);
    // The child turns healthy: Ready=True, from the same copy, and then nothing is kept for it.
    w.api.put(childPath('a-demo-deploy'), { ...w.api.get(childPath('a-demo-deploy'))!, status: HEALTHY });
    expect(await w.run(r, undefined, written.metadata.resourceVersion)).toBeUndefined();
    expect(w.reads()).toBe(0);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(w.current().metadata.generation).toBe(written.metadata.generation);
    await w.run(r, undefined, w.current().metadata.resourceVersion);
    expect(w.reads(), 'nothing due any more: the copy was dropped').toBe(1);
    expect(k.calls).toHaveLength(1);
  });

  it('reads the object again after a reconcile that failed with an error, though the watch has brought nothing after its last write', async () => {
    const { k, w, r } = await progressing();
    const written = w.current().metadata.resourceVersion;
    // Its next status write times out after the API server took it: the answer, and the state it left, are lost.
    w.api.put(childPath('a-demo-deploy'), { ...w.api.get(childPath('a-demo-deploy'))!, status: HEALTHY });
    await w.losingPatchAnswers(() => expect(w.run(r, undefined, written)).rejects.toThrow('timed out'));
    expect(w.reads()).toBe(0);
    const from = w.api.calls.length;
    await w.run(r, undefined, written);
    expect(w.api.calls[from], 'the retry starts with a read').toMatchObject({ method: 'GET', path: w.path });
    expect(w.statusWrites(), 'the lost write went through: nothing left to write').toBe(2);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
  });

  it('starts each reconcile from its own copy of what the last write left: a timer that changes its object changes no later reconcile', async () => {
    const k = fakeKubectl();
    const operator = new Operator({ name: 'c', resource: thing })
      .kustomize('sample', () => ({ base: 'sample' }))
      .timer('tick', { intervalMs: 1_000 }, (ctx) => {
        (ctx.body.spec as { n: number }).n = 99;
      });
    const w = world(operator, {}, k);
    const r = w.reconciler();
    expect(await w.run(r, w.current())).toBe(1_000);
    const written = w.current().metadata.resourceVersion;
    for (let i = 0; i < 2; i++) {
      w.clock.now += 1_000;
      expect(await w.run(r, undefined, written)).toBe(1_000);
    }
    expect(w.reads()).toBe(0);
    expect(k.calls, 'no reconcile saw the spec the timer wrote into its copy').toHaveLength(1);
  });

  it('reads the object when the watch has brought a change after its own last write, and applies that change', async () => {
    const { k, w, r } = await progressing();
    await w.patch({ spec: { count: 3 } });
    await w.run(r, undefined, w.current().metadata.resourceVersion);
    expect(w.reads()).toBe(1);
    expect(k.calls, 'the new spec was applied').toHaveLength(2);
    expect(w.current().status?.kustomate).toMatchObject({ lastHandled: JSON.stringify({ spec: { count: 3 } }) });
  });

  it('reads the object again after a first reconcile that failed midway: a write whose answer was lost may have gone through', async () => {
    const w = world(sample, { spec: { count: 2 } });
    const added = w.current();
    const r = w.reconciler();
    await w.losingPatchAnswers(() => expect(w.run(r, added)).rejects.toThrow('timed out'));
    expect(w.current().metadata.finalizers).toEqual([FINALIZER]);
    await w.run(r, added);
    expect(w.reads()).toBe(1);
    expect(w.current().status?.sample).toEqual({ message: 'deployment.apps/a-demo-deploy serverside-applied' });
  });

  it('reads the object again after carrying out its deletion: an event from before it, arriving late, re-creates nothing', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 2 } }, k);
    const r = w.reconciler();
    await w.run(r);
    await w.patch({ spec: { count: 3 } });
    // The MODIFIED event of that change, which a lagging watch delivers only after what follows.
    const late = w.current();
    w.api.objects.get(w.path)!.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    w.api.objects.get(w.path)!.metadata.finalizers = [FINALIZER, 'other.io/keep'];
    // Woken by something else (a child, a timer): it reads the deletion, deletes the children, removes its finalizer.
    await w.run(r);
    expect(w.current().metadata.finalizers).toEqual(['other.io/keep']);
    expect(w.api.get(childPath('a-demo-deploy'))).toBeUndefined();
    const applies = k.calls.filter((c) => c[0] === 'apply').length;
    await w.run(r, late);
    expect(k.calls.filter((c) => c[0] === 'apply')).toHaveLength(applies);
    expect(w.api.get(childPath('a-demo-deploy'))).toBeUndefined();
  });

  it('reads an object being deleted again, and an event of another object of that name is not used', async () => {
    const w = world(sample, { spec: { count: 2 } });
    const ending = { ...w.current(), metadata: { ...w.current().metadata, deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: [FINALIZER] } };
    await w.run(w.reconciler(), ending);
    expect(w.reads()).toBe(1);
    const namesake = { ...w.current(), metadata: { ...w.current().metadata, uid: 'older' } };
    await w.run(w.reconciler(), namesake);
    expect(w.reads()).toBe(2);
  });

  it('holds a wake-up that arrives while its write is in flight, and drops it when it was the echo of that write or of the finalizer', async () => {
    const w = world(sample, { spec: { count: 2 } });
    const r = w.reconciler();
    const woken: string[] = [];
    const echoes: KubeObject[] = [];
    const realRequest = w.api.request.bind(w.api);
    w.api.request = (async (method: string, path: string, opts?: any) => {
      const result = await realRequest(method, path, opts);
      if (method !== 'PATCH') return result;
      // The watch brings the echo before the write's own response is read; someone else's change comes too.
      const echo = structuredClone(result) as KubeObject;
      echoes.push(echo);
      if (path.endsWith('/status')) {
        r.unlessOwnWrite(echo, () => woken.push('echo'));
        r.unlessOwnWrite({ ...echo, metadata: { ...echo.metadata, resourceVersion: 'by-someone-else' } }, () => woken.push('someone else'));
        expect(woken).toEqual([]);
      }
      return result;
    }) as typeof w.api.request;
    await w.run(r);
    expect(woken).toEqual(['someone else']);
    // The finalizer's echo, late, after the status write: it shows a state this reconcile went on from.
    expect(echoes).toHaveLength(2);
    r.unlessOwnWrite(echoes[0]!, () => woken.push('finalizer echo'));
    expect(woken).toEqual(['someone else']);
  });

  it('writes nothing and runs nothing when only status or metadata noise changed', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 2 } }, k);
    await w.run();
    const writes = w.statusWrites();
    await w.run();
    await w.patch({ metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } } });
    await w.run();
    expect(k.calls).toHaveLength(1);
    expect(w.statusWrites()).toBe(writes);
  });

  it('re-applies when spec.count changes, storing the result at status.sample and the new observedGeneration', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 2 } }, k);
    await w.run();
    await w.patch({ spec: { count: 3 } });
    await w.run();
    expect(k.calls).toHaveLength(2);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True', observedGeneration: 2 });
    expect(w.api.events.map((e) => e.reason)).toEqual(['Created', 'Updated']);
  });

  it('claims in observedGeneration only the generation it built, even when the spec changes during the apply', async () => {
    let w!: ReturnType<typeof world>;
    let once = true;
    const k = fakeKubectl([], async () => {
      if (once) await w.patch({ spec: { count: 3 } });
      once = false;
    });
    w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    const o = w.current();
    expect(o.metadata.generation).toBe(2);
    expect(o.status?.observedGeneration).toBe(1);
    expect(cond(o, 'Ready')).toMatchObject({ status: 'True', observedGeneration: 1 });
    expect(JSON.parse((o.status?.kustomate as any).lastHandled)).toEqual({ spec: { count: 1 } });
    await w.run();
    expect(w.current().status?.observedGeneration).toBe(2);
    expect(k.calls).toHaveLength(2);
  });

  it('after a status write that failed, applies again and writes Ready: nothing was recorded before the status', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 2 } }, k);
    let blocked = true;
    w.api.failWhen = (method, path) => (blocked && method === 'PATCH' && path.endsWith('/status') ? new ApiError(403, 'denied by policy') : undefined);
    await expect(w.run()).rejects.toThrow(/denied by policy/);
    expect(cond(w.current(), 'Ready')).toBeUndefined();
    blocked = false;
    await w.run();
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True' });
    expect(k.calls).toHaveLength(2);
  });

  it('heals a failed update that the user reverted: re-applies the handled spec, Ready=True, retry state cleared', async () => {
    const k = fakeKubectl([0, 1]);
    const w = world(sample, { spec: { count: 2 } }, k);
    await w.run();
    await w.patch({ spec: { count: 5 } });
    await w.run();
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    await w.patch({ spec: { count: 2 } });
    await w.run();
    const o = w.current();
    expect(cond(o, 'Ready')).toMatchObject({ status: 'True', observedGeneration: 3 });
    expect((o.status?.kustomate as any).progress).toBeUndefined();
    expect(k.calls).toHaveLength(3);
    expect(w.api.events.map((e) => e.reason)).toEqual(['Created', 'ApplyFailed', 'Repaired']);
  });

  it('runs several kustomize specs in order, each storing its own result', async () => {
    const k = fakeKubectl();
    const two = new Operator({ name: 'two', resource: thing })
      .kustomize('first', () => ({ base: 'sample' }))
      .kustomize('second', () => ({ base: 'gordon' }));
    const w = world(two, {}, k);
    await w.run();
    expect(k.calls.map((c) => c[0])).toEqual(['apply', 'apply']);
    expect(Object.keys(w.current().status ?? {})).toEqual(expect.arrayContaining(['first', 'second']));
  });

  it('does nothing for an object that is gone or was re-created under the same name', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k);
    const r = w.reconciler();
    expect(await r.reconcile({ namespace: 'ns', name: 'a', uid: 'some-older-uid' })).toBeUndefined();
    expect(await r.reconcile({ namespace: 'ns', name: 'gone', uid: 'u' })).toBeUndefined();
    expect(k.calls).toHaveLength(0);
    expect(w.statusWrites()).toBe(0);
  });

  it('writes nothing once cancelled during a successful apply, and runs no later step', async () => {
    let w!: ReturnType<typeof world>;
    let later = 0;
    const k = fakeKubectl([], async () => w.cancel.abort());
    const operator = new Operator({ name: 'c', resource: thing })
      .kustomize('first', () => ({ base: 'sample' }))
      .onCreate('later', () => void later++)
      .timer('tick', { intervalMs: 1_000 }, () => ({ ticked: true }));
    w = world(operator, {}, k);
    expect(await w.run()).toBeUndefined();
    expect(later).toBe(0);
    expect(w.statusWrites()).toBe(0);
    expect(w.api.events).toHaveLength(0);
  });

  it('starts again from the object when it changed before the finalizer went on, instead of applying an unvalidated spec', async () => {
    const k = fakeKubectl();
    const attempts: Array<{ ok: boolean }> = [];
    const w = world(sample, { spec: { count: 1 } }, k, { onStep: (o) => void attempts.push(o) });
    let first = true;
    w.api.failWhen = (method, path) => {
      if (method !== 'PATCH' || path.endsWith('/status') || !first) return undefined;
      first = false;
      return new ApiError(409, 'the object has been modified', 'Conflict');
    };
    expect(await w.run()).toBe(0);
    expect(k.calls).toHaveLength(0);
    expect(w.statusWrites()).toBe(0);
    // Not a failed attempt of the step (its metrics): the step did nothing wrong, the object changed.
    expect(attempts).toEqual([]);
    await w.run();
    expect(k.calls).toHaveLength(1);
    expect(attempts).toMatchObject([{ ok: true }]);
  });

  it('builds and checks the work dir while its finalizer patch is in flight, and applies only once the finalizer is on', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let sent!: () => void;
    const finalizerSent = new Promise<void>((r) => (sent = r));
    w.api.holdWhen = (method, path) => (method === 'PATCH' && path === w.path ? (sent(), held) : undefined);
    const running = w.run();
    await finalizerSent;
    // The ownership check reads the child the work dir renders, while the finalizer is not on yet.
    await expect.poll(() => w.api.calls.some((c) => c.method === 'GET' && c.path === childPath('a-demo-deploy'))).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(k.calls).toHaveLength(0);
    release();
    await running;
    expect(k.calls).toHaveLength(1);
    expect(w.current().metadata.finalizers).toEqual([FINALIZER]);
    expect(cond(w.current(), 'Ready')?.status).toBe('True');
  });

  it('applies nothing, and fails as the API did, when its finalizer patch fails', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k);
    w.api.failWhen = (method, path) => (method === 'PATCH' && path === w.path ? new ApiError(500, 'etcd is down', 'InternalError') : undefined);
    await expect(w.run()).rejects.toThrow(/etcd is down/);
    expect(k.calls).toHaveLength(0);
    expect(w.statusWrites()).toBe(0);
  });

  it('never writes its status onto a namesake created while it ran', async () => {
    let w!: ReturnType<typeof world>;
    const k = fakeKubectl([], async () => {
      const old = w.current();
      w.api.put(w.path, { ...old, metadata: { name: 'a', namespace: 'ns', uid: 'new-uid' }, status: {} });
    });
    w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    expect(w.current().metadata.uid).toBe('new-uid');
    expect(w.current().status).toEqual({});
  });

  it('writes nothing once cancelled (a lost lease): the apply is killed and the next leader does it again', async () => {
    let w!: ReturnType<typeof world>;
    const k = fakeKubectl([1], async () => w.cancel.abort());
    w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    expect(w.statusWrites()).toBe(0);
    expect(w.api.events).toHaveLength(0);
  });
});

describe('reconcile: failures and retries', () => {
  it("never takes a failed kubectl run for success: Ready=False with stderr, retried with growing delays, then recovers", async () => {
    const k = fakeKubectl([1, 1, 1, 0]);
    const w = world(sample, { spec: { count: 2 } }, k);
    const delays = [await w.run()];
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'ApplyFailed', message: expect.stringContaining('broken base') });
    expect(cond(w.current(), 'Reconciling')).toMatchObject({ status: 'True', reason: 'ProgressingWithRetry' });
    // Woken before the delay is over (by our own status write): no new attempt, just the rest of the wait.
    w.clock.now += 400;
    expect(await w.run()).toBe(600);
    expect(k.calls).toHaveLength(1);
    w.clock.now += 600;
    delays.push(await w.run());
    w.clock.now += 2_000;
    delays.push(await w.run());
    w.clock.now += 4_000;
    delays.push(await w.run());
    expect(delays).toEqual([1_000, 2_000, 4_000, undefined]);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True' });
    expect(w.api.events.map((e) => `${e.type}/${e.reason}`)).toEqual(['Warning/ApplyFailed', 'Warning/ApplyFailed', 'Warning/ApplyFailed', 'Normal/Created']);
  });

  it('reports an invalid spec once, with Ready=False/InvalidSpec, Stalled and an Event, and no retry or kubectl', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 'many' } }, k);
    expect(await w.run()).toBeUndefined();
    w.clock.now += 3_600_000;
    expect(await w.run()).toBeUndefined();
    expect(k.calls).toHaveLength(0);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: expect.stringContaining('spec.count') });
    expect(cond(w.current(), 'Stalled')).toMatchObject({ status: 'True' });
    expect(w.api.events).toHaveLength(1);
    expect(w.current().metadata.finalizers).toBeUndefined();
  });

  it('retries a handler that throws 3 times with growing delays, then ends Ready with its backoff reset', async () => {
    let calls = 0;
    const flaky: Handler = () => {
      if (++calls <= 3) throw new Error(`boom ${calls}`);
      return { message: 'ok' };
    };
    const w = world(op().onCreate('thing_create', flaky).onUpdate('thing_update', flaky));
    const delays: Array<number | undefined> = [];
    for (let i = 0; i < 4; i++) {
      delays.push(await w.run());
      w.clock.now += delays.at(-1) ?? 0;
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, undefined]);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True' });
    expect((w.current().status as any).kustomate?.progress).toBeUndefined();
    calls = 0;
    await w.patch({ spec: { n: 2 } });
    expect(await w.run()).toBe(1_000);
  });

  it('keeps the retry state on the object, so a restarted operator keeps its backoff', async () => {
    const w = world(op().onCreate('thing_create', () => {
      throw new Error('always');
    }));
    await w.run();
    w.clock.now += 1_000;
    await w.run();
    expect((w.current().status as any).kustomate.progress).toMatchObject({ attempt: 2, permanent: false });
    expect(await w.run(w.reconciler())).toBe(2_000);
  });

  it('stops on PermanentError: Ready=False and Stalled, no retries until the spec changes', async () => {
    let calls = 0;
    const w = world(op().onCreate('thing_create', () => {
      calls++;
      throw new PermanentError('cannot do n=1', 'BadN');
    }));
    expect(await w.run()).toBeUndefined();
    w.clock.now += 600_000;
    expect(await w.run()).toBeUndefined();
    expect(await w.run(w.reconciler())).toBeUndefined();
    expect(calls).toBe(1);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'BadN' });
    expect(cond(w.current(), 'Stalled')).toMatchObject({ status: 'True', message: expect.stringContaining('cannot do n=1') });
    await w.patch({ spec: { n: 3 } });
    await w.run();
    expect(calls).toBe(2);
  });

  it('waits the delay a TemporaryError asks for, with its reason', async () => {
    const w = world(op().onCreate('thing_create', () => {
      throw new TemporaryError('not yet', 7_000, 'Waiting');
    }));
    expect(await w.run()).toBe(7_000);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'Waiting' });
  });

  it('backs off as for any error, keeping its reason, after a TemporaryError with no delay', async () => {
    const w = world(op().onCreate('thing_create', () => {
      throw new TemporaryError('the database is away', undefined, 'DatabaseUnavailable');
    }));
    const delays: Array<number | undefined> = [];
    for (let i = 0; i < 3; i++) {
      delays.push(await w.run());
      w.clock.now += delays.at(-1) ?? 0;
    }
    expect(delays).toEqual([1_000, 2_000, 4_000]);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'DatabaseUnavailable' });
  });

  it('gives up after the retry limit with RetriesExhausted and the last error', async () => {
    let calls = 0;
    const w = world(op().onCreate('thing_create', () => {
      calls++;
      throw new Error(`flaky ${calls}`);
    }, { retries: 2 }));
    for (let i = 0; i < 5; i++) w.clock.now += (await w.run()) ?? 0;
    expect(calls).toBe(3);
    expect(cond(w.current(), 'Ready')).toMatchObject({ reason: 'RetriesExhausted', message: 'thing_create: gave up after 2 retries: flaky 3' });
  });

  it('fails a timed-out attempt only once it has ended, so two attempts never overlap', async () => {
    let running = 0;
    let most = 0;
    let aborted = false;
    const w = world(op().onCreate('thing_create', async (ctx: HandlerContext) => {
      running++;
      most = Math.max(most, running);
      ctx.signal.addEventListener('abort', () => (aborted = true));
      await new Promise((r) => setTimeout(r, 150)); // ignores its signal for a while
      running--;
    }, { timeoutMs: 30 }));
    const started = Date.now();
    expect(await w.run()).toBe(1_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(aborted).toBe(true);
    expect(running).toBe(0);
    expect(cond(w.current(), 'Ready')).toMatchObject({ reason: 'TimedOut', message: 'thing_create: handler thing_create timed out after 30 ms' });
    w.clock.now += 1_000;
    await w.run();
    expect(most).toBe(1);
  });

  it("honours the errors of another copy of kustomate (an operator module's own) by their names", async () => {
    // What `import { PermanentError } from 'kustomate'` gives a module that resolves to another install.
    class ForeignPermanentError extends Error {
      override name = 'PermanentError';
      readonly reason = 'ToldToStop';
    }
    let calls = 0;
    const w = world(op().onCreate('thing_create', () => {
      calls++;
      throw new ForeignPermanentError('no');
    }));
    expect(await w.run()).toBeUndefined();
    w.clock.now += 600_000;
    await w.run();
    expect(calls).toBe(1);
    expect(cond(w.current(), 'Ready')).toMatchObject({ reason: 'ToldToStop' });
  });

  it('retries a failed resume handler as a resume, until it succeeds', async () => {
    let resumes = 0;
    const operator = op().onCreate('thing_create', () => undefined).onResume('thing_resume', () => {
      if (++resumes === 1) throw new Error('not yet');
    });
    const w = world(operator);
    await w.run();
    const restarted = w.reconciler();
    expect(await w.run(restarted)).toBe(1_000);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'HandlerFailed' });
    w.clock.now += 1_000;
    await w.run(restarted);
    expect(resumes).toBe(2);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True' });
  });

  it('refuses delays setTimeout cannot wait for, when the handler is registered', () => {
    expect(() => op().onCreate('x', () => undefined, { timeoutMs: 2 ** 31 })).toThrow(/timeoutMs must be between 1 and 2147483647/);
    expect(() => op().timer('x', { intervalMs: 0 }, () => undefined)).toThrow(/intervalMs/);
  });

  it('refuses step ids that are status fields kustomate writes itself', () => {
    expect(() => op().onCreate('conditions', () => undefined)).toThrow(/status field kustomate writes itself/);
    expect(() => op().kustomize('kustomate', () => ({ base: 'sample' }))).toThrow(/status field kustomate writes itself/);
  });
});

describe('reconcile: handlers', () => {
  it('runs only the handlers whose label, annotation and predicate filters match', async () => {
    const ran: string[] = [];
    const h = (id: string): Handler => () => void ran.push(id);
    const w = world(
      op()
        .onCreate('by_label', h('by_label'), { labels: { tier: 'web' } })
        .onCreate('label_absent', h('label_absent'), { labels: { skip: false } })
        .onCreate('by_annotation', h('by_annotation'), { annotations: { go: true } })
        .onCreate('by_predicate', h('by_predicate'), { when: (o) => (o.spec as { n: number }).n > 5 }),
      { metadata: { name: 'a', namespace: 'ns', uid: 'u', labels: { tier: 'web' } } },
    );
    await w.run();
    expect(ran).toEqual(['by_label', 'label_absent']);
  });

  it('runs a field handler only when its field changes, with old, new and diff', async () => {
    const seen: Array<Partial<HandlerContext>> = [];
    const w = world(op().onField('n_changed', 'spec.n', (ctx) => void seen.push({ old: ctx.old, new: ctx.new, diff: ctx.diff })), { spec: { n: 1, other: 'x' } });
    await w.run();
    await w.patch({ spec: { other: 'y' } });
    await w.run();
    await w.patch({ spec: { n: 2 } });
    await w.run();
    expect(seen).toEqual([
      { old: undefined, new: 1, diff: [['add', ['spec', 'n'], undefined, 1]] },
      { old: 1, new: 2, diff: [['change', ['spec', 'n'], 1, 2]] },
    ]);
  });

  it('gives update handlers the old and new essence and their diff', async () => {
    let got: Partial<HandlerContext> = {};
    const w = world(op().onUpdate('thing_update', (ctx) => void (got = { old: ctx.old, new: ctx.new, diff: ctx.diff })));
    await w.run();
    await w.patch({ spec: { n: 5 } });
    await w.run();
    expect(got).toEqual({ old: { spec: { n: 1 } }, new: { spec: { n: 5 } }, diff: [['change', ['spec', 'n'], 1, 5]] });
  });

  it('runs resume handlers once per process for objects that need nothing else', async () => {
    const resumed: string[] = [];
    const operator = op().onCreate('thing_create', () => undefined).onResume('thing_resume', (ctx) => void resumed.push(ctx.name));
    const w = world(operator);
    await w.run();
    await w.run();
    expect(resumed).toEqual([]);
    const restarted = w.reconciler();
    await w.run(restarted);
    await w.run(restarted);
    expect(resumed).toEqual(['a']);
  });

  it('still runs its resume handlers after a finalizer patch that found the object changed', async () => {
    const resumed: string[] = [];
    const operator = op()
      .onCreate('thing_create', () => undefined)
      .onResume('thing_resume', (ctx) => void resumed.push(ctx.name))
      .onDelete('thing_delete', () => undefined);
    const w = world(operator);
    await w.run();
    // The finalizer removed by hand; a restarted process puts it back, and its first patch meets a conflict.
    await w.patch({ metadata: { finalizers: null } });
    let conflicts = 1;
    w.api.failWhen = (method, path) => (method === 'PATCH' && path === w.path && conflicts-- > 0 ? new ApiError(409, 'the object has been modified', 'Conflict') : undefined);
    const restarted = w.reconciler();
    expect(await w.run(restarted)).toBe(0);
    expect(resumed).toEqual([]);
    await w.run(restarted);
    expect(resumed).toEqual(['a']);
    expect(w.current().metadata.finalizers).toEqual([FINALIZER]);
  });

  it('adds no finalizer when there are no delete steps', async () => {
    const w = world(op().onCreate('thing_create', () => ({ message: 'made' })));
    await w.run();
    expect(w.current().metadata.finalizers).toBeUndefined();
  });

  it('never runs a timer whose interval, a function of the object, is not a number of ms ≥ 1', async () => {
    let runs = 0;
    const w = world(op().onCreate('thing_create', () => undefined).timer('tick', { intervalMs: () => 0 }, () => void runs++));
    expect(await w.run()).toBeUndefined();
    expect(runs).toBe(0);
  });

  it('runs timers after a successful reconcile, writes a result only when it changes, and comes back every interval', async () => {
    let value = 'a';
    let runs = 0;
    const w = world(op().onCreate('thing_create', () => ({ message: 'made' })).timer('thing_tick', { intervalMs: 1_000 }, () => {
      runs++;
      return { value };
    }));
    expect(await w.run()).toBe(1_000);
    expect(w.current().status?.thing_tick).toEqual({ value: 'a' });
    const before = w.statusWrites();
    w.clock.now += 400;
    expect(await w.run()).toBe(600);
    w.clock.now += 600;
    await w.run();
    expect(runs).toBe(2);
    expect(w.statusWrites()).toBe(before);
    value = 'b';
    w.clock.now += 1_000;
    await w.run();
    expect(w.current().status?.thing_tick).toEqual({ value: 'b' });
  });
});

describe('reconcile: delete', () => {
  it("deletes the inventory's children through the API (no kubectl), then removes only its own finalizer", async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    const stored = w.api.objects.get(w.path)!;
    stored.metadata.finalizers = ['other.io/keep', ...stored.metadata.finalizers!];
    stored.metadata.deletionTimestamp = new Date().toISOString();
    await w.run();
    expect(k.calls.map((c) => c[0])).toEqual(['apply']);
    expect(w.api.get(childPath('a-demo-deploy'))).toBeUndefined();
    expect(w.current().metadata.finalizers).toEqual(['other.io/keep']);
    expect(w.api.events.filter((e) => e.reason === 'Deleted').map((e) => e.message)).toEqual(['sample succeeded: Deployment ns/a-demo-deploy deleted']);
  });

  it('keeps the finalizer, and the child in the inventory, while its delete fails, and says so in status', async () => {
    const w = world(sample, { spec: { count: 1 } });
    await w.run();
    w.api.failWhen = (method) => (method === 'DELETE' ? new ApiError(403, 'deletes are blocked') : undefined);
    w.api.objects.get(w.path)!.metadata.deletionTimestamp = new Date().toISOString();
    expect(await w.run()).toBeGreaterThan(0);
    expect(w.current().metadata.finalizers).toEqual([FINALIZER]);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'DeleteFailed', message: expect.stringContaining('Deployment ns/a-demo-deploy') });
    expect((w.current().status as any).inventory.sample).toHaveLength(1);
  });

  it('deletes what the inventory holds even when the current spec is invalid', async () => {
    const w = world(sample, { spec: { count: 1 } });
    await w.run();
    await w.patch({ spec: { count: 'many' } });
    await w.run();
    w.api.objects.get(w.path)!.metadata.deletionTimestamp = new Date().toISOString();
    await w.run();
    expect(w.api.get(childPath('a-demo-deploy'))).toBeUndefined();
    expect(w.current().metadata.finalizers).toEqual([]);
  });

  it('waits, with the finalizer on, while a deleted child is still there (a finalizer of its own)', async () => {
    const w = world(sample, { spec: { count: 1 } });
    await w.run();
    const child = w.api.get(childPath('a-demo-deploy'))!;
    // The fake API keeps an object whose DELETE succeeds, as the API server keeps one with finalizers.
    let lingering = true;
    const realRequest = w.api.request.bind(w.api);
    w.api.request = (async (method: string, path: string, opts?: any) => {
      if (method === 'DELETE' && path === childPath('a-demo-deploy') && lingering) return child;
      return realRequest(method, path, opts);
    }) as typeof w.api.request;
    w.api.objects.get(w.path)!.metadata.deletionTimestamp = new Date().toISOString();
    expect(await w.run()).toBe(1_000);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'Deleting', message: 'sample: waiting for Deployment ns/a-demo-deploy to go' });
    expect(w.current().metadata.finalizers).toEqual([FINALIZER]);
    lingering = false;
    w.clock.now += 1_000;
    await w.run();
    expect(w.current().metadata.finalizers).toEqual([]);
  });

  it('runs delete steps in the reverse order of registration', async () => {
    const order: string[] = [];
    const operator = new Operator({ name: 'o', resource: thing })
      .kustomize('kept', () => ({ base: 'sample' }))
      .onDelete('backup_first', () => void order.push('backup'));
    const w = world(operator);
    await w.run();
    const realRequest = w.api.request.bind(w.api);
    w.api.request = (async (method: string, path: string, opts?: any) => {
      if (method === 'DELETE') order.push('delete child');
      return realRequest(method, path, opts);
    }) as typeof w.api.request;
    w.api.objects.get(w.path)!.metadata.deletionTimestamp = new Date().toISOString();
    await w.run();
    expect(order).toEqual(['backup', 'delete child']);
  });
});

describe('reconcile: children (inventory, prune, drift, health)', () => {
  const inventoryOf = (o: KubeObject) => (o.status as any)?.inventory;

  it("records what the apply created, with a digest of kustomate's fields, in status.inventory", async () => {
    const w = world(sample, { spec: { count: 1 } });
    await w.run();
    expect(inventoryOf(w.current())).toEqual({
      sample: [{ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'a-demo-deploy', fields: expect.stringMatching(/^[0-9a-f]{16}$/) }],
    });
  });

  it('prunes exactly the child a new render no longer holds, and leaves a foreign namesake alone', async () => {
    let render = ['a-one', 'a-two', 'a-three'];
    // A spec whose objects only a render of its work dir tells (extra kustomization fields): what the fake renders.
    const varying = new Operator({ name: 't', resource: thing }).kustomize('sample', () => ({ base: 'sample', kustomization: VARYING }));
    const k = fakeKubectl([], undefined, () => render.map((n) => deployment(varying, n)));
    const w = world(varying, { spec: { count: 1 } }, k);
    await w.run();
    // a-three is replaced by someone else's object of the same name: not ours to delete.
    w.api.put(childPath('a-three'), { ...deployment(sample, 'a-three'), metadata: { name: 'a-three', namespace: 'ns', uid: 'theirs' } });
    render = ['a-one'];
    await w.patch({ spec: { count: 2 } });
    await w.run();
    expect(w.api.get(childPath('a-one'))).toBeDefined();
    expect(w.api.get(childPath('a-two'))).toBeUndefined();
    expect(w.api.get(childPath('a-three'))?.metadata.uid).toBe('theirs');
    expect(inventoryOf(w.current()).sample.map((e: any) => e.name)).toEqual(['a-one']);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True' });
  });

  it('keeps a child that fails to delete in the inventory, says PruneFailed, and prunes it on the retry', async () => {
    let render = ['a-one', 'a-two'];
    const k = fakeKubectl([], undefined, () => render.map((n) => deployment(sample, n)));
    const w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    render = ['a-one'];
    let refuse = true;
    w.api.failWhen = (method, path) => (refuse && method === 'DELETE' && path.endsWith('/a-two') ? new ApiError(403, 'deletes of a-two are blocked') : undefined);
    await w.patch({ spec: { count: 2 } });
    expect(await w.run()).toBe(1_000);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'PruneFailed', message: expect.stringContaining('Deployment ns/a-two') });
    expect(inventoryOf(w.current()).sample.map((e: any) => e.name)).toEqual(['a-one', 'a-two']);
    refuse = false;
    w.clock.now += 1_000;
    await w.run();
    expect(w.api.get(childPath('a-two'))).toBeUndefined();
    expect(inventoryOf(w.current()).sample.map((e: any) => e.name)).toEqual(['a-one']);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True' });
  });

  it('re-applies a deleted child and posts one Drifted Event naming it', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    await w.api.request('DELETE', childPath('a-demo-deploy'));
    await w.run();
    expect(k.calls.filter((c) => c[0] === 'apply')).toHaveLength(2);
    expect(w.api.get(childPath('a-demo-deploy'))).toBeDefined();
    expect(w.api.events.filter((e) => e.reason === 'Drifted').map((e) => e.message)).toEqual(['Deployment ns/a-demo-deploy was deleted; re-applied']);
    await w.run();
    expect(k.calls.filter((c) => c[0] === 'apply')).toHaveLength(2);
  });

  it('does not re-apply a child deleted while its namespace is being deleted, says Ready=False, and repairs as before when it cannot tell', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    w.api.put('/api/v1/namespaces/ns', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns', deletionTimestamp: new Date().toISOString() } });
    await w.api.request('DELETE', childPath('a-demo-deploy'));
    await w.run();
    expect(k.calls.filter((c) => c[0] === 'apply')).toHaveLength(1);
    expect(w.api.events.filter((e) => e.reason === 'Drifted')).toEqual([]);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'Progressing', message: expect.stringContaining('a-demo-deploy') });
    expect(w.current().status?.kustomate).not.toHaveProperty('progress');

    // No right to read namespaces: a repair, as without the check.
    w.api.failWhen = (method, path) => (method === 'GET' && path === '/api/v1/namespaces/ns' ? new ApiError(403, 'namespaces is forbidden') : undefined);
    await w.run();
    expect(k.calls.filter((c) => c[0] === 'apply')).toHaveLength(2);
    expect(w.api.get(childPath('a-demo-deploy'))).toBeDefined();
  });

  it('records no failure, so retries nothing, when an apply fails while the namespace is being deleted', async () => {
    const k = fakeKubectl([0, 1]);
    const w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    const before = w.current().status;
    w.api.put('/api/v1/namespaces/ns', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns', deletionTimestamp: new Date().toISOString() } });
    await w.patch({ spec: { count: 2 } });
    expect(await w.run()).toBeUndefined();
    expect(k.calls.filter((c) => c[0] === 'apply')).toHaveLength(2);
    expect(w.current().status).toEqual(before);
    expect(w.api.events.filter((e) => e.reason === 'ApplyFailed')).toEqual([]);
  });

  it('with drift: warn, re-applies nothing and says what differs in a Drifted condition, once', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k, { drift: 'warn' });
    await w.run();
    await w.api.request('DELETE', childPath('a-demo-deploy'));
    await w.run();
    await w.run();
    expect(k.calls).toHaveLength(1);
    expect(cond(w.current(), 'Drifted')).toMatchObject({ status: 'True', message: 'Deployment ns/a-demo-deploy was deleted' });
    expect(w.api.events.filter((e) => e.reason === 'Drifted')).toHaveLength(1);
  });

  it('with drift: ignore, neither re-applies nor reports', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k, { drift: 'ignore' });
    await w.run();
    await w.api.request('DELETE', childPath('a-demo-deploy'));
    await w.run();
    expect(k.calls).toHaveLength(1);
    expect(cond(w.current(), 'Drifted')).toBeUndefined();
  });

  it('says Progressing while a child is unhealthy, HealthCheckFailed past the timeout, and True once it is healthy', async () => {
    const unavailable = { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 0, conditions: [{ type: 'Available', status: 'False', message: 'no nodes match' }] };
    const k = fakeKubectl([], undefined, () => [deployment(sample, 'a-demo-deploy', unavailable)]);
    const w = world(sample, { spec: { count: 1 } }, k, { healthTimeoutMs: 60_000 });
    expect(await w.run()).toBe(60_000);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'Progressing', message: 'waiting for Deployment ns/a-demo-deploy: 0 of 1 replicas available: no nodes match' });
    expect(cond(w.current(), 'Reconciling')).toMatchObject({ status: 'True', reason: 'Progressing' });
    w.clock.now += 20_000;
    expect(await w.run()).toBe(40_000);
    w.clock.now += 40_000;
    await w.run();
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'HealthCheckFailed', message: 'Deployment ns/a-demo-deploy: 0 of 1 replicas available: no nodes match' });
    const fixed = w.api.get(childPath('a-demo-deploy'))!;
    w.api.put(childPath('a-demo-deploy'), { ...fixed, status: HEALTHY });
    await w.run();
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded', message: 'deployment.apps/a-demo-deploy serverside-applied' });
    expect((w.current().status as any).kustomate.progressingSince).toBeUndefined();
    expect(k.calls).toHaveLength(1);
  });

  it('judges a child from the state its watch brought, with no GET, once the watch has brought what the last reconcile applied', async () => {
    const states = new ChildStates();
    const { w, r } = await progressing({ childStates: states });
    const childReads = () => w.api.calls.filter((c) => c.method === 'GET' && c.path === childPath('a-demo-deploy')).length;
    const readBefore = childReads();
    // The watch brings the apply's own state, then its controller's status write.
    states.observe('ADDED', w.api.get(childPath('a-demo-deploy'))!);
    const healthy = w.api.put(childPath('a-demo-deploy'), { ...w.api.get(childPath('a-demo-deploy'))!, status: HEALTHY });
    states.observe('MODIFIED', healthy);
    const again = await r.reconcile({ namespace: 'ns', name: 'a', uid: 'u' }, { watched: w.current().metadata.resourceVersion, children: new Map([[keyOfChild(healthy), healthy]]) });
    expect(again).toBeUndefined();
    expect(childReads()).toBe(readBefore);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
  });

  it('reads a child whose state the watch brought may be older than what the last reconcile applied', async () => {
    const states = new ChildStates();
    const { w, r } = await progressing({ childStates: states });
    // A healthy state from before the apply, which a lagging watch brings only after the apply's answer.
    const earlier = { ...deployment(sample, 'a-demo-deploy', HEALTHY), metadata: { ...deployment(sample, 'a-demo-deploy').metadata, resourceVersion: '1' } };
    states.observe('MODIFIED', earlier);
    const childReads = () => w.api.calls.filter((c) => c.method === 'GET' && c.path === childPath('a-demo-deploy')).length;
    const readBefore = childReads();
    await r.reconcile({ namespace: 'ns', name: 'a', uid: 'u' }, { watched: w.current().metadata.resourceVersion, children: new Map([[keyOfChild(earlier), earlier]]) });
    expect(childReads()).toBe(readBefore + 1);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'Progressing' });
  });

  it("honours the operator's own drift: warn when the runtime overrides nothing, and the runtime's drift when it does", async () => {
    const warns = new Operator({ name: 't', resource: thing, drift: 'warn' }).kustomize('sample', () => ({ base: 'sample' }));
    const k = fakeKubectl();
    const w = world(warns, { spec: { count: 1 } }, k);
    await w.run();
    await w.api.request('DELETE', childPath('a-demo-deploy'));
    await w.run();
    expect(k.calls, 'warn re-applies nothing').toHaveLength(1);
    expect(w.api.get(childPath('a-demo-deploy'))).toBeUndefined();
    expect(cond(w.current(), 'Drifted')).toMatchObject({ status: 'True', message: 'Deployment ns/a-demo-deploy was deleted' });

    await w.run(w.reconciler({ drift: 'correct' }));
    expect(k.calls.filter((c) => c[0] === 'apply'), 'the override corrects').toHaveLength(2);
    expect(w.api.get(childPath('a-demo-deploy'))).toBeDefined();
    expect(cond(w.current(), 'Drifted')).toMatchObject({ status: 'False', reason: 'Corrected' });
  });

  it("honours the operator's own drift: ignore, and a runtime drift: warn over it", async () => {
    const ignores = new Operator({ name: 't', resource: thing, drift: 'ignore' }).kustomize('sample', () => ({ base: 'sample' }));
    const k = fakeKubectl();
    const w = world(ignores, { spec: { count: 1 } }, k);
    await w.run();
    await w.api.request('DELETE', childPath('a-demo-deploy'));
    await w.run();
    expect(k.calls).toHaveLength(1);
    expect(cond(w.current(), 'Drifted')).toBeUndefined();
    expect(w.api.events.filter((e) => e.reason === 'Drifted')).toEqual([]);

    await w.run(w.reconciler({ drift: 'warn' }));
    expect(k.calls).toHaveLength(1);
    expect(cond(w.current(), 'Drifted')).toMatchObject({ status: 'True', message: 'Deployment ns/a-demo-deploy was deleted' });
  });

  it("waits the operator's own healthTimeoutMs for unhealthy children when the runtime overrides nothing, and the runtime's when it does", async () => {
    const unavailable = { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 0, conditions: [{ type: 'Available', status: 'False', message: 'no nodes match' }] };
    const patient = new Operator({ name: 't', resource: thing, healthTimeoutMs: 90_000 }).kustomize('sample', () => ({ base: 'sample' }));
    const k = fakeKubectl([], undefined, () => [deployment(patient, 'a-demo-deploy', unavailable)]);
    const w = world(patient, { spec: { count: 1 } }, k);
    // Not the default of 5 min: the operator's 90 s.
    expect(await w.run()).toBe(90_000);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'Progressing' });
    w.clock.now += 89_000;
    expect(await w.run()).toBe(1_000);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'Progressing' });
    w.clock.now += 1_000;
    await w.run();
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'HealthCheckFailed' });

    // The same operator under a runtime override of 10 s: a fresh object gives up after 10 s, not 90.
    const overridden = world(patient, { spec: { count: 1 } }, fakeKubectl([], undefined, () => [deployment(patient, 'a-demo-deploy', unavailable)]), { healthTimeoutMs: 10_000 });
    expect(await overridden.run()).toBe(10_000);
    overridden.clock.now += 10_000;
    await overridden.run();
    expect(cond(overridden.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'HealthCheckFailed' });
  });

  it("judges children by the operator's own health rule when it has one", async () => {
    const picky = new Operator({ name: 'p', resource: thing }).kustomize('web', () => ({ base: 'sample' })).healthCheck('apps/Deployment', () => ({ healthy: false, failed: true, message: 'never good enough' }));
    const w = world(picky);
    await w.run();
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'HealthCheckFailed', message: 'Deployment ns/a-demo-deploy: never good enough' });
  });

  it('on delete, deletes what the inventory still holds, but never a foreign object', async () => {
    const k = fakeKubectl([], undefined, () => ['a-one', 'a-two'].map((n) => deployment(sample, n)));
    const w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    w.api.put(childPath('a-two'), { ...deployment(sample, 'a-two'), metadata: { name: 'a-two', namespace: 'ns', uid: 'theirs' } });
    w.api.objects.get(w.path)!.metadata.deletionTimestamp = new Date().toISOString();
    await w.run();
    expect(w.api.get(childPath('a-one'))).toBeUndefined();
    expect(w.api.get(childPath('a-two'))?.metadata.uid).toBe('theirs');
    expect(w.current().metadata.finalizers).toEqual([]);
  });

  it('prunes the inventory of a kustomize spec the operator no longer has, and never checks its drift or health', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    // A spec id from an older version of the operator: its child exists, one more is already gone.
    const old = [
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'a-old', fields: 'x' },
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'a-gone', fields: 'x' },
    ];
    w.api.put(childPath('a-old'), deployment(sample, 'a-old'));
    await w.api.request('PATCH', `${w.path}/status`, { body: { status: { inventory: { renamed: old } } }, contentType: 'application/merge-patch+json' });
    await w.run();
    await w.run();
    expect(w.api.events.filter((e) => e.reason === 'Drifted')).toHaveLength(0);
    expect(k.calls).toHaveLength(1);
    await w.patch({ spec: { count: 2 } });
    await w.run();
    expect(w.api.get(childPath('a-old'))).toBeUndefined();
    expect(Object.keys(inventoryOf(w.current()))).toEqual(['sample']);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True' });
  });

  it('keeps a child a renamed kustomize spec still renders: the old inventory is dropped, the child is not deleted', async () => {
    const k = fakeKubectl();
    const before = new Operator({ name: 'o', resource: thing }).kustomize('old', () => ({ base: 'sample' }));
    const w = world(before, {}, k);
    await w.run();
    expect(Object.keys(inventoryOf(w.current()))).toEqual(['old']);
    const after = new Operator({ name: 'o', resource: thing }).kustomize('renamed', () => ({ base: 'sample' }));
    await w.run(w.reconciler({ operator: after }));
    expect(w.api.get(childPath('a-demo-deploy')), 'the child was deleted').toBeDefined();
    expect(w.api.calls.filter((c) => c.method === 'DELETE')).toEqual([]);
    expect(inventoryOf(w.current())).toEqual({ renamed: [expect.objectContaining({ name: 'a-demo-deploy' })] });
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True' });
  });

  it('keeps a child that moved from one kustomize spec to a later one, whichever applies first', async () => {
    // Two specs; each reconcile renders and applies first, then second. Which one renders the child is told here.
    let holder: 'first' | 'second' = 'first';
    const k: FakeKubectl = fakeKubectl([], undefined, () => {
      const spec = Math.floor((k.calls.length + k.renders.length - 1) / 2) % 2 === 0 ? 'first' : 'second';
      return spec === holder ? [deployment(operator)] : [];
    });
    const operator = new Operator({ name: 'o', resource: thing })
      .kustomize('first', () => ({ base: 'sample', kustomization: VARYING }))
      .kustomize('second', () => ({ base: 'sample', kustomization: VARYING }));
    const w = world(operator, {}, k);
    await w.run();
    expect(inventoryOf(w.current())).toEqual({ first: [expect.objectContaining({ name: 'a-demo-deploy' })], second: [] });
    holder = 'second';
    await w.patch({ spec: { n: 2 } });
    await w.run();
    expect(w.api.calls.filter((c) => c.method === 'DELETE')).toEqual([]);
    expect(inventoryOf(w.current())).toEqual({ first: [], second: [expect.objectContaining({ name: 'a-demo-deploy' })] });
    holder = 'first';
    await w.patch({ spec: { n: 3 } });
    await w.run();
    expect(w.api.calls.filter((c) => c.method === 'DELETE')).toEqual([]);
    expect(inventoryOf(w.current())).toEqual({ first: [expect.objectContaining({ name: 'a-demo-deploy' })], second: [] });
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True' });
  });

  it('applies once, to record an inventory, an object handled before inventories were kept', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    await w.api.request('PATCH', `${w.path}/status`, { body: { status: { inventory: null } }, contentType: 'application/merge-patch+json' });
    await w.run();
    await w.run();
    expect(k.calls.filter((c) => c[0] === 'apply')).toHaveLength(2);
    expect(inventoryOf(w.current()).sample).toHaveLength(1);
  });

  it('turns a Drifted condition left from warn mode False once drift is corrected', async () => {
    const k = fakeKubectl();
    const warn = world(sample, { spec: { count: 1 } }, k, { drift: 'warn' });
    await warn.run();
    await warn.api.request('DELETE', childPath('a-demo-deploy'));
    await warn.run();
    expect(cond(warn.current(), 'Drifted')).toMatchObject({ status: 'True' });
    await warn.run(warn.reconciler({ drift: 'correct' }));
    expect(cond(warn.current(), 'Drifted')).toMatchObject({ status: 'False', reason: 'Corrected' });
    expect(warn.api.get(childPath('a-demo-deploy'))).toBeDefined();
  });

  it('does not take a Job that is gone for drift: a Job is one run, and may be removed once finished', async () => {
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'a-once', namespace: 'ns', uid: 'j' }, status: { conditions: [{ type: 'Complete', status: 'True' }] } } as KubeObject;
    const k = fakeKubectl([], undefined, () => [job]);
    const w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    expect(inventoryOf(w.current()).sample.map((e: any) => e.kind)).toEqual(['Job']);
    await w.run();
    expect(k.calls).toHaveLength(1);
    expect(w.api.events.filter((e) => e.reason === 'Drifted')).toHaveLength(0);
  });

  it('re-applies a child whose field someone else took, naming only that field and who took it', async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k);
    await w.run();
    const live = w.api.get(childPath('a-demo-deploy'))!;
    (live.metadata as any).managedFields = [
      { manager: 'kustomate', operation: 'Apply', fieldsV1: {} },
      { manager: 'kubectl', operation: 'Update', subresource: 'scale', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
      { manager: 'kubectl-annotate', operation: 'Update', fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:note': {} } } } },
    ];
    w.api.put(childPath('a-demo-deploy'), live);
    await w.run();
    expect(k.calls.filter((c) => c[0] === 'apply')).toHaveLength(2);
    const drifted = w.api.events.filter((e) => e.reason === 'Drifted');
    expect(drifted).toMatchObject([{ type: 'Warning', message: 'Deployment ns/a-demo-deploy: spec.replicas changed by kubectl (scale); re-applied' }]);
  });
});

describe('reconcile: nothing foreign touched, nothing secret shown', () => {
  it("stops before applying when a rendered object exists and is someone else's: NotOwned, an Event, the object untouched, also on delete", async () => {
    const k = fakeKubectl();
    const w = world(sample, { spec: { count: 1 } }, k);
    const theirs = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'a-demo-deploy', namespace: 'ns', uid: 'theirs', labels: { team: 'other' } }, spec: { replicas: 5 } } as KubeObject;
    w.api.put(childPath('a-demo-deploy'), theirs);
    const before = w.api.get(childPath('a-demo-deploy'))!;
    // Looked at again only every few minutes: no busy loop of renders.
    expect(await w.run()).toBe(300_000);
    expect(k.calls).toHaveLength(0);
    expect(cond(w.current(), 'Ready')).toMatchObject({
      status: 'False',
      reason: 'NotOwned',
      message: "sample: Deployment ns/a-demo-deploy already exists and is not this Sample's; left untouched",
    });
    expect(w.api.events.map((e) => e.reason)).toEqual(['NotOwned']);
    w.api.objects.get(w.path)!.metadata.deletionTimestamp = new Date().toISOString();
    await w.run();
    expect(w.current().metadata.finalizers).toEqual([]);
    expect(w.api.get(childPath('a-demo-deploy'))).toEqual(before);
  });

  it('keeps Secret values out of status, Events and the Ready message when kubectl prints them', async () => {
    const leaked = fs.readFileSync(new URL('./fixtures/kubectl-apply-forbidden-secret.txt', import.meta.url), 'utf8');
    const w = world(sample, { spec: { count: 1 } }, { ...fakeKubectl([1]), run: async (args) => {
      if (args[0] === 'kustomize') return { command: ['kubectl', ...args], exitCode: 0, stdout: '', stderr: '', durationMs: 1, timedOut: false };
      return { command: ['kubectl', ...args], exitCode: 1, stdout: '', stderr: leaked, durationMs: 1, timedOut: false };
    } });
    await w.run();
    const everything = JSON.stringify({ status: w.current().status, events: w.api.events });
    expect(everything).toContain('is forbidden');
    expect(everything).not.toContain('aHVudGVyMi1UT1BTRUNSRVQtTkVX');
  });
});

describe('reconcile: what handlers apply, waits, secret fields', () => {
  /** A Job as kustomate applies it for object a: owned, labelled, and running until told otherwise. */
  const job = (name: string, status: Record<string, unknown> = {}): KubeObject => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      labels: ownerLabels({ apiVersion: 'x.io/v1', kind: 'Thing', name: 'a' }).owner,
      ownerReferences: [{ apiVersion: 'x.io/v1', kind: 'Thing', name: 'a', uid: 'u', controller: true }],
    } as KubeObject['metadata'],
    status,
  });

  it('records what a handler applies as its inventory, waits for it to be healthy for Ready, and deletes it with the object', async () => {
    // The first apply is the server's Deployment, the second the handler's Job.
    const k: FakeKubectl = fakeKubectl([], undefined, () => (k.calls.length <= 1 ? [deployment(operator)] : [job('restore')]));
    const operator = new Operator({ name: 'o', resource: thing })
      .kustomize('server', () => ({ base: 'sample' }))
      .onCreate('restore', async (ctx) => {
        await ctx.kustomize.apply({ base: 'sample' });
        return { message: 'restore started' };
      });
    const w = world(operator, {}, k);
    await w.run();
    expect((w.current().status as any).inventory.restore).toEqual([expect.objectContaining({ kind: 'Job', name: 'restore', namespace: 'ns' })]);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'Progressing', message: 'waiting for Job ns/restore: running' });
    w.api.put(jobPath('restore'), job('restore', { conditions: [{ type: 'Complete', status: 'True' }] }));
    await w.run();
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True', message: 'deployment.apps/a-demo-deploy serverside-applied\nrestore started' });
    w.api.objects.get(w.path)!.metadata.deletionTimestamp = new Date().toISOString();
    await w.run();
    expect(w.api.get(jobPath('restore'))).toBeUndefined();
    expect(w.current().metadata.finalizers).toEqual([]);
  });

  it('takes a Job that is gone for a healthy one: it ran, and may have been removed once finished', async () => {
    const k: FakeKubectl = fakeKubectl([], undefined, () => (k.calls.length <= 1 ? [deployment(operator)] : [job('once')]));
    const operator = new Operator({ name: 'o', resource: thing })
      .kustomize('server', () => ({ base: 'sample' }))
      .onCreate('once', async (ctx) => void (await ctx.kustomize.apply({ base: 'sample' })));
    const w = world(operator, {}, k);
    await w.run();
    expect(cond(w.current(), 'Ready')?.reason).toBe('Progressing');
    w.api.objects.delete(jobPath('once'));
    await w.run();
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'True' });
  });

  it('neither records nor owns what a handler applies as retained, and takes an existing one that carries the owner label', async () => {
    const k = fakeKubectl();
    const operator = new Operator({ name: 'o', resource: thing }).onCreate('keep', async (ctx) => void (await ctx.kustomize.apply({ base: 'sample', retain: true })));
    const w = world(operator, {}, k);
    // Left by an earlier object of the same name: labelled for it, no ownerReference.
    const left = deployment(operator);
    delete left.metadata.ownerReferences;
    w.api.put(childPath('a-demo-deploy'), left);
    await w.run();
    expect(k.calls.filter((c) => c[0] === 'apply')).toHaveLength(1);
    expect(cond(w.current(), 'Ready')?.status).toBe('True');
    expect((w.current().status as any).inventory?.keep).toBeUndefined();
    // Without the owner label it is someone else's: NotOwned, not applied.
    delete left.metadata.labels;
    w.api.put(childPath('a-demo-deploy'), left);
    const other = world(operator, { metadata: { name: 'a', namespace: 'ns', uid: 'u2' } }, fakeKubectl());
    other.api.put(childPath('a-demo-deploy'), left);
    await other.run();
    expect(cond(other.current(), 'Ready')?.reason).toBe('NotOwned');
  });

  it('shows a step that waits (WaitingError) as Ready=False with its reason and Reconciling, with one Normal Event and no backoff', async () => {
    let done = false;
    const operator = new Operator({ name: 'o', resource: thing }).onDelete('backup', () => {
      if (!done) throw new WaitingError('waiting for the backup Job', 3_000, 'BackingUp');
      return { message: 'backed up' };
    });
    const w = world(operator, { metadata: { name: 'a', namespace: 'ns', uid: 'u', finalizers: [FINALIZER], deletionTimestamp: new Date().toISOString() } });
    expect(await w.run()).toBe(3_000);
    expect(await w.run()).toBe(3_000);
    expect(cond(w.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'BackingUp', message: 'backup: waiting for the backup Job' });
    expect(cond(w.current(), 'Reconciling')).toMatchObject({ status: 'True', reason: 'Progressing' });
    expect(cond(w.current(), 'Stalled')?.status).toBe('False');
    expect(w.api.events.map((e) => `${e.type}/${e.reason}`)).toEqual(['Normal/BackingUp']);
    expect((w.current().status as any).kustomate?.progress).toBeUndefined();
    done = true;
    await w.run();
    expect(w.current().metadata.finalizers).toEqual([]);
  });

  it('keeps secret fields out of status: lastHandled holds a digest, and a change is still an update', async () => {
    const seen: unknown[] = [];
    const operator = new Operator({ name: 'o', resource: thing, secretFields: ['spec.password'] }).onUpdate('pw', (ctx) => void seen.push([(ctx.old as any).spec.password, (ctx.new as any).spec.password, ctx.spec.password]));
    const w = world(operator, { spec: { password: 'hunter2' } });
    await w.run();
    const recorded = JSON.stringify(w.current().status);
    expect(recorded).not.toContain('hunter2');
    expect(recorded).toContain('sha256:');
    await w.patch({ spec: { password: 'correct horse' } });
    await w.run();
    expect(seen).toEqual([[expect.stringMatching(/^sha256:/), expect.stringMatching(/^sha256:/), 'correct horse']]);
    const [before, after] = (seen as string[][])[0]!;
    expect(before).not.toBe(after);
    expect(JSON.stringify(w.current().status)).not.toContain('correct horse');
    expect(() => new Operator({ name: 'o', resource: thing, secretFields: ['metadata.name'] })).toThrow(/must be a field under spec/);
  });

  it('retries a permanently failed delete once the user adds an annotation, kustomate.io/ ones included', async () => {
    const operator = new Operator({ name: 'o', resource: thing }).onDelete('backup', (ctx) => {
      if (ctx.body.metadata.annotations?.['kustomate.io/skip-backup'] !== 'true') throw new PermanentError('backup failed', 'BackupFailed');
      return { message: 'skipped' };
    });
    const w = world(operator, { metadata: { name: 'a', namespace: 'ns', uid: 'u', finalizers: [FINALIZER], deletionTimestamp: new Date().toISOString() } });
    await w.run();
    expect(cond(w.current(), 'Ready')?.reason).toBe('BackupFailed');
    expect(await w.run()).toBeUndefined();
    await w.patch({ metadata: { annotations: { 'kustomate.io/skip-backup': 'true' } } });
    await w.run();
    expect(w.current().metadata.finalizers).toEqual([]);
  });
});
