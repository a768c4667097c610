// The kubectl batcher on a kubectl stand-in (one module; the end-to-end suite applies real bursts): how work dirs are
// grouped into processes, and how output and errors are split back per custom resource.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import type { KubectlRunner } from '../../src/kubectl/runner.ts';
import { KubectlBatcher, SHARE_AT_LEAST, WINDOWS_AT_MOST, shares } from '../../src/kustomize/batch.ts';
import { WorkQueue } from '../../src/runtime/queue.ts';

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-batch-'));
afterAll(() => fs.rm(root, { recursive: true, force: true }));

/** A work dir the stand-in understands: one ConfigMap of owner `uid`, or a broken one. */
async function workdir(uid: string, broken = false): Promise<string> {
  const dir = await fs.mkdtemp(path.join(root, `wd-${uid}-`));
  await fs.writeFile(path.join(dir, 'fake.json'), JSON.stringify({ uid, broken }));
  return dir;
}

/**
 * kubectl as far as the batcher needs it: `kustomize DIR` and `apply -k DIR` on a work dir or on a parent whose
 * kustomization lists work dirs. One broken work dir fails the whole run, and then `-o json` prints nothing, as
 * kubectl does.
 */
function fakeKubectl() {
  const runs: Array<{ verb: string; uids: string[] }> = [];
  const run: KubectlRunner = async (args) => {
    const dir = args[args[0] === 'kustomize' ? 1 : 2]!;
    const own = await fs.readFile(path.join(dir, 'fake.json'), 'utf8').catch(() => undefined);
    const dirs = own ? [dir] : (parse(await fs.readFile(path.join(dir, 'kustomization.yaml'), 'utf8')).resources as string[]).map((r) => path.resolve(dir, r));
    const items = await Promise.all(dirs.map(async (d) => JSON.parse(await fs.readFile(path.join(d, 'fake.json'), 'utf8')) as { uid: string; broken: boolean }));
    runs.push({ verb: args[0]!, uids: items.map((i) => i.uid) });
    const base = { command: ['kubectl', ...args], durationMs: 1, timedOut: false };
    const broken = items.filter((i) => i.broken);
    if (broken.length) return { ...base, exitCode: 1, stdout: '', stderr: broken.map((b) => `The ConfigMap "cm-${b.uid}" is invalid`).join('\n') };
    const objects = items.map((i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i.uid}`, namespace: 'ns', annotations: { 'kustomate.io/owner-uid': i.uid } } }));
    const stdout = args[0] === 'kustomize' ? objects.map((o) => JSON.stringify(o)).join('\n---\n') : JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
    return { ...base, exitCode: 0, stdout, stderr: '' };
  };
  return { run, runs };
}

/** `run`, each call taking `ms`, and the most calls it had running at once. */
function counting(run: KubectlRunner, ms = 5) {
  let running = 0;
  let most = 0;
  const counted: KubectlRunner = async (args, opts) => {
    most = Math.max(most, ++running);
    try {
      await new Promise((r) => setTimeout(r, ms));
      return await run(args, opts);
    } finally {
      running--;
    }
  };
  return { run: counted, most: () => most };
}

describe('kubectl batches', () => {
  it('applies work dirs that queue together with one kubectl process, each object getting only its own output', async () => {
    const k = fakeKubectl();
    const batcher = new KubectlBatcher({ kubectl: k.run, active: () => 3 }, { windowMs: 50, max: 10 });
    const dirs = await Promise.all(['a', 'b', 'c'].map((uid) => workdir(uid)));
    const outputs = await Promise.all(dirs.map((d, i) => batcher.apply(d, ['a', 'b', 'c'][i]!)));
    expect(k.runs).toEqual([{ verb: 'apply', uids: ['a', 'b', 'c'] }]);
    expect(outputs.map((o) => o.stdout)).toEqual(['configmap/cm-a serverside-applied', 'configmap/cm-b serverside-applied', 'configmap/cm-c serverside-applied']);
    expect(outputs[1]!.objects.map((o) => o.metadata.name)).toEqual(['cm-b']);
  });

  it('splits a failed batch in halves until each failure is alone: the others succeed, the failures get their own errors', async () => {
    const k = fakeKubectl();
    const uids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const batcher = new KubectlBatcher({ kubectl: k.run, active: () => uids.length }, { windowMs: 50, max: 10 });
    const dirs = await Promise.all(uids.map((uid) => workdir(uid, uid === 'c' || uid === 'f')));
    const settled = await Promise.allSettled(dirs.map((d, i) => batcher.apply(d, uids[i]!)));
    const results = settled.map((r) => (r.status === 'fulfilled' ? r.value.stdout : `failed: ${(r.reason as Error).message}`));
    expect(results.filter((r) => r.startsWith('configmap/'))).toHaveLength(6);
    expect(results[2]).toMatch(/^failed: apply -k .* exited 1: The ConfigMap "cm-c" is invalid$/);
    expect(results[5]).toMatch(/^failed: apply -k .* exited 1: The ConfigMap "cm-f" is invalid$/);
    expect((settled[2] as PromiseRejectedResult).reason.reason).toBe('ApplyFailed');
    // Fewer processes than one per object, even with two failures: 8 → 4+4 → 2+2+2+2 → singles for the failed pairs.
    expect(k.runs.length).toBeLessThan(uids.length * 2);
    expect(k.runs.filter((r) => r.uids.length === 1).map((r) => r.uids[0]).sort()).toEqual(['c', 'd', 'e', 'f']);
  });

  it('fails every object of a batch killed by its timeout with that timeout, without splitting it', async () => {
    const k = fakeKubectl();
    const timingOut: KubectlRunner = async (args, opts) => {
      const r = await k.run(args, opts);
      return { ...r, exitCode: 1, stdout: '', stderr: 'kubectl timed out and was killed', timedOut: true };
    };
    const uids = ['a', 'b', 'c', 'd'];
    const batcher = new KubectlBatcher({ kubectl: timingOut, active: () => uids.length }, { windowMs: 50, max: 10 });
    const dirs = await Promise.all(uids.map((uid) => workdir(uid)));
    const settled = await Promise.allSettled(dirs.map((d, i) => batcher.apply(d, uids[i]!)));
    expect(settled.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok'))).toEqual(uids.map(() => expect.stringContaining('timed out')));
    expect(k.runs).toEqual([{ verb: 'apply', uids }]);
  });

  it('runs the halves of a failed batch one after another, so a batch of one share where everything fails never has two kubectl processes at once', async () => {
    const k = fakeKubectl();
    const counted = counting(k.run);
    const uids = Array.from({ length: 16 }, (_, i) => `u${i}`);
    const batcher = new KubectlBatcher({ kubectl: counted.run, active: () => uids.length }, { windowMs: 50, max: 16, processes: 4 });
    const dirs = await Promise.all(uids.map((uid) => workdir(uid, true)));
    const settled = await Promise.allSettled(dirs.map((d, i) => batcher.apply(d, uids[i]!)));
    expect(settled.every((r) => r.status === 'rejected')).toBe(true);
    // 16 → 8+8 → … → 16 singles: every object ends with its own error.
    expect(k.runs.filter((r) => r.uids.length === 1)).toHaveLength(16);
    expect(counted.most()).toBe(1);
  });

  it('cuts a batch into shares of at least the given size and at most one apart, at most the given count, in order, each work dir once', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => i);
    const sizes = (n: number, most: number) => shares(ids(n), most, 16).map((s) => s.length);
    expect(sizes(200, 2)).toEqual([100, 100]);
    expect(sizes(200, 4)).toEqual([50, 50, 50, 50]);
    expect(sizes(33, 4)).toEqual([17, 16]);
    expect(sizes(49, 4)).toEqual([17, 16, 16]);
    expect(sizes(65, 4)).toEqual([17, 16, 16, 16]);
    expect(sizes(32, 4)).toEqual([16, 16]);
    expect(sizes(31, 4)).toEqual([31]);
    expect(sizes(1, 4)).toEqual([1]);
    expect(sizes(200, 1)).toEqual([200]);
    expect(shares(ids(101), 3, 16).flat()).toEqual(ids(101));
  });

  it('runs a big batch as shares on several kubectl processes at once, no more than processes of them, each object getting only its own output', async () => {
    const burst = async (processes: number) => {
      const k = fakeKubectl();
      const counted = counting(k.run, 20);
      const uids = Array.from({ length: 4 * SHARE_AT_LEAST }, (_, i) => `u${i}`);
      const batcher = new KubectlBatcher({ kubectl: counted.run, active: () => uids.length }, { windowMs: 50, max: 100, processes });
      const dirs = await Promise.all(uids.map((uid) => workdir(uid)));
      const outputs = await Promise.all(dirs.map((d, i) => batcher.apply(d, uids[i]!)));
      expect(outputs.map((o) => o.stdout)).toEqual(uids.map((u) => `configmap/cm-${u} serverside-applied`));
      // The runs in the order they reached kubectl, which those at once do not keep.
      return { runs: k.runs.map((r) => r.uids.length).sort((a, b) => b - a), most: counted.most() };
    };
    expect(await burst(2)).toEqual({ runs: [32, 32], most: 2 });
    expect(await burst(3)).toEqual({ runs: [22, 21, 21], most: 3 });
    expect(await burst(1)).toEqual({ runs: [64], most: 1 });
  });

  it('splits a failed share within itself while the other shares succeed whole, never more processes at once than allowed', async () => {
    const k = fakeKubectl();
    const counted = counting(k.run);
    const uids = Array.from({ length: 2 * SHARE_AT_LEAST }, (_, i) => `u${i}`);
    const batcher = new KubectlBatcher({ kubectl: counted.run, active: () => uids.length }, { windowMs: 50, max: 100, processes: 2 });
    const dirs = await Promise.all(uids.map((uid) => workdir(uid, uid === 'u3')));
    const settled = await Promise.allSettled(dirs.map((d, i) => batcher.apply(d, uids[i]!)));
    expect(settled.map((r) => r.status === 'fulfilled')).toEqual(uids.map((u) => u !== 'u3'));
    expect((settled[3] as PromiseRejectedResult).reason.message).toMatch(/The ConfigMap "cm-u3" is invalid$/);
    // The second share's one run, untouched by the failure in the first.
    expect(k.runs).toContainEqual({ verb: 'apply', uids: uids.slice(SHARE_AT_LEAST) });
    expect(k.runs.filter((r) => r.uids.includes('u3')).map((r) => r.uids.length)).toEqual([16, 8, 4, 2, 1]);
    expect(counted.most()).toBe(2);
  });

  it('renders in batches too, and a build error stays with its own work dir', async () => {
    const k = fakeKubectl();
    const batcher = new KubectlBatcher({ kubectl: k.run, active: () => 2 }, { windowMs: 50, max: 10 });
    const [good, bad] = await Promise.all([workdir('g'), workdir('x', true)]);
    const [ok, failed] = await Promise.allSettled([batcher.render(good!, 'g'), batcher.render(bad!, 'x')]);
    expect(ok).toMatchObject({ status: 'fulfilled', value: [{ metadata: { name: 'cm-g' } }] });
    expect(failed).toMatchObject({ status: 'rejected', reason: { reason: 'BuildFailed' } });
  });

  it('sends a lone work dir at once when no other reconcile runs, without waiting for the window', async () => {
    const k = fakeKubectl();
    const batcher = new KubectlBatcher({ kubectl: k.run, active: () => 1 }, { windowMs: 60_000, max: 10 });
    const started = performance.now();
    await batcher.apply(await workdir('solo'), 'solo');
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(k.runs).toEqual([{ verb: 'apply', uids: ['solo'] }]);
  });

  it('never puts two work dirs of one object in one kubectl run, and runs no more than max at once', async () => {
    const k = fakeKubectl();
    const batcher = new KubectlBatcher({ kubectl: k.run, active: () => 5 }, { windowMs: 20, max: 2 });
    const dirs = await Promise.all(['a', 'a', 'b', 'c', 'd'].map((uid) => workdir(uid)));
    await Promise.all(dirs.map((d, i) => batcher.render(d, ['a', 'a', 'b', 'c', 'd'][i]!)));
    expect(k.runs.every((r) => r.uids.length <= 2 && new Set(r.uids).size === r.uids.length)).toBe(true);
    expect(k.runs.flatMap((r) => r.uids).sort()).toEqual(['a', 'a', 'b', 'c', 'd']);
  });

  it('grows a batch past the reconciles that run at once when waiting ones lend their slots, up to max of them', async () => {
    const uids = Array.from({ length: 12 }, (_, i) => `u${i}`);
    const dirs = new Map(await Promise.all(uids.map(async (uid) => [uid, await workdir(uid)] as const)));
    const burst = async (maxLent: number) => {
      const k = fakeKubectl();
      let maxHeld = 0;
      const q: WorkQueue = new WorkQueue(
        async (uid) => {
          maxHeld = Math.max(maxHeld, q.running - q.lending);
          await batcher.apply(dirs.get(uid)!, uid);
          maxHeld = Math.max(maxHeld, q.running - q.lending);
          return undefined;
        },
        { concurrency: 2, maxLent },
      );
      const batcher = new KubectlBatcher({ kubectl: k.run, active: () => q.joinable, lend: () => q.lend() }, { windowMs: 50, max: 8 });
      for (const uid of uids) q.add(uid);
      await q.idle();
      return { sizes: k.runs.map((r) => r.uids.length), maxHeld };
    };
    // Lending: 8 wait with their slots lent and 2 more hold theirs, so a batch takes 8 (its max). (The first key
    // goes alone: nothing else runs when it arrives.)
    const lending = await burst(8);
    expect(Math.max(...lending.sizes)).toBe(8);
    expect(lending.sizes.reduce((a, b) => a + b)).toBe(uids.length);
    expect(lending.maxHeld).toBeLessThanOrEqual(2);
    // Without, no batch holds more than the 2 reconciles that run at once.
    expect(Math.max(...(await burst(0)).sizes)).toBeLessThanOrEqual(2);
  });

  it('gives every lent slot back when its batch fails', async () => {
    const k = fakeKubectl();
    const uids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const dirs = new Map(await Promise.all(uids.map(async (uid) => [uid, await workdir(uid, uid === 'c')] as const)));
    const failed: string[] = [];
    const q: WorkQueue = new WorkQueue(
      async (uid) => {
        await Promise.resolve();
        await batcher.apply(dirs.get(uid)!, uid).catch(() => failed.push(uid));
        return undefined;
      },
      { concurrency: 1, maxLent: 6 },
    );
    const batcher = new KubectlBatcher({ kubectl: k.run, active: () => q.joinable, lend: () => q.lend() }, { windowMs: 20, max: 6 });
    for (const uid of uids) q.add(uid);
    await q.idle();
    expect(failed).toEqual(['c']);
    expect([q.running, q.lending, q.reclaiming]).toEqual([0, 0, 0]);
  });

  it('does not hold a batch for reconciles whose own kubectl run is over and that only wait for a slot again', async () => {
    // One slot, one lent: A renders alone, and then waits for its slot, which B holds while it waits to render.
    const k = fakeKubectl();
    const dirs = new Map(await Promise.all(['A', 'B'].map(async (uid) => [uid, await workdir(uid)] as const)));
    const q: WorkQueue = new WorkQueue(
      async (uid) => {
        await Promise.resolve();
        await batcher.render(dirs.get(uid)!, uid);
        await batcher.apply(dirs.get(uid)!, uid);
        return undefined;
      },
      { concurrency: 1, maxLent: 1 },
    );
    const batcher = new KubectlBatcher({ kubectl: k.run, active: () => q.joinable, lend: () => q.lend() }, { windowMs: 60_000, max: 10 });
    q.add('A');
    q.add('B');
    // A window of a minute: nothing ends unless every batch goes as soon as nobody else can join it.
    const done = await Promise.race([q.idle().then(() => true), new Promise((r) => setTimeout(() => r(false), 5_000))]);
    expect(done).toBe(true);
    expect(k.runs.filter((r) => r.verb === 'apply').flatMap((r) => r.uids).sort()).toEqual(['A', 'B']);
  });

  it('hands a result back only once the waiting reconcile has its slot again', async () => {
    const k = fakeKubectl();
    let giveBack!: () => void;
    const slot = new Promise<void>((r) => (giveBack = r));
    let lent = 0;
    const batcher = new KubectlBatcher({ kubectl: k.run, active: () => 1, lend: () => (lent++, () => slot) }, { windowMs: 10, max: 10 });
    let done = false;
    const applied = batcher.apply(await workdir('w'), 'w').then(() => (done = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(k.runs).toHaveLength(1);
    expect(done).toBe(false);
    giveBack();
    await applied;
    expect(lent).toBe(1);
  });

  // On fake time (setTimeout and performance.now), so a slow machine cannot stretch the gaps; the work dirs are
  // made before, and kubectl's stand-in runs on real time after.
  const fakeTime = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });

  it('keeps gathering while work dirs arrive within the window of each other, so a burst makes one batch', async () => {
    const k = fakeKubectl();
    const uids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    const dirs = await Promise.all(uids.map((uid) => workdir(uid)));
    // Many reconciles run (nobody waits for all of them), and one reaches the batcher every 30 ms: each inside the
    // 100 ms window of the one before, though the last comes 240 ms after the first.
    const batcher = new KubectlBatcher({ kubectl: k.run, active: () => 100 }, { windowMs: 100, max: 50 });
    const applied: Array<Promise<unknown>> = [];
    fakeTime();
    try {
      for (const [i, d] of dirs.entries()) {
        applied.push(batcher.apply(d, uids[i]!));
        await vi.advanceTimersByTimeAsync(30);
      }
      await vi.advanceTimersByTimeAsync(100);
    } finally {
      vi.useRealTimers();
    }
    await Promise.all(applied);
    expect(k.runs).toEqual([{ verb: 'apply', uids }]);
  });

  it(`sends a batch ${WINDOWS_AT_MOST} windows after its first work dir however many keep arriving`, async () => {
    const k = fakeKubectl();
    const uids = Array.from({ length: 60 }, (_, i) => `u${i}`);
    const dirs = await Promise.all(uids.map((uid) => workdir(uid)));
    const batcher = new KubectlBatcher({ kubectl: k.run, active: () => 1_000 }, { windowMs: 30, max: 1_000 });
    const applied: Array<Promise<unknown>> = [];
    fakeTime();
    try {
      // One every 10 ms: the batch goes at 30 ms × WINDOWS_AT_MOST with those that came before; the rest wait for
      // that kubectl run to end, and go together after it.
      for (const [i, d] of dirs.entries()) {
        applied.push(batcher.apply(d, uids[i]!));
        await vi.advanceTimersByTimeAsync(10);
      }
    } finally {
      vi.useRealTimers();
    }
    await Promise.all(applied);
    expect(k.runs.map((r) => r.uids.length)).toEqual([WINDOWS_AT_MOST * 3, uids.length - WINDOWS_AT_MOST * 3]);
    expect(k.runs[0]!.uids).toEqual(uids.slice(0, WINDOWS_AT_MOST * 3));
  });
});
