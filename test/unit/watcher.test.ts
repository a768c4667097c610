import { describe, expect, it } from 'vitest';
import { ApiError, type Api, type KubeObject, type RequestOptions } from '../../src/kube/api.ts';
import { LIST_PAGE, Watcher, type WatchEventType } from '../../src/runtime/watcher.ts';

const obj = (name: string, rv: string, uid = name): KubeObject => ({
  apiVersion: 'nuvolaris.org/v1',
  kind: 'Sample',
  metadata: { name, namespace: 'demo', uid, resourceVersion: rv },
});
const line = (type: string, object: unknown) => JSON.stringify({ type, object });

type Step = { list: KubeObject[]; rv: string; continue?: string; apiVersion?: string; kind?: string } | { error: ApiError } | { watch: string[] } | { watchError: ApiError };

/** An Api that answers lists and watches from a script, and records what was asked. */
class ScriptedApi implements Api {
  readonly asked: Array<{ kind: 'list' | 'watch'; query?: RequestOptions['query'] }> = [];
  private readonly steps: Step[];
  private readonly done: () => void;
  constructor(steps: Step[], done: () => void) {
    this.steps = steps;
    this.done = done;
  }
  private next(): Step {
    const s = this.steps.shift();
    if (!s) {
      this.done();
      return { watch: [] };
    }
    return s;
  }
  async request<T>(_method: string, _path: string, opts: RequestOptions = {}): Promise<T> {
    this.asked.push({ kind: 'list', query: opts.query });
    const s = this.next();
    if ('error' in s) throw s.error;
    if (!('list' in s)) throw new Error(`script expected a list, got ${JSON.stringify(s)}`);
    return { apiVersion: s.apiVersion, kind: s.kind, metadata: { resourceVersion: s.rv, continue: s.continue }, items: s.list } as T;
  }
  async stream(_path: string, opts: RequestOptions): Promise<AsyncIterable<string>> {
    this.asked.push({ kind: 'watch', query: opts.query });
    const s = this.next();
    if ('watchError' in s) throw s.watchError;
    if (!('watch' in s)) throw new Error(`script expected a watch, got ${JSON.stringify(s)}`);
    return (async function* () {
      yield* s.watch;
    })();
  }
}

async function runScript(steps: Step[], extra: { delays?: number[] } = {}) {
  const events: Array<[WatchEventType, string, string]> = [];
  const objects: KubeObject[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const api = new ScriptedApi(steps, () => finish());
  const delays = extra.delays ?? [];
  const watcher = new Watcher({
    api,
    path: '/apis/nuvolaris.org/v1/namespaces/demo/samples',
    onEvent: (type, o) => {
      events.push([type, o.metadata.name, o.metadata.resourceVersion ?? '']);
      objects.push(o);
    },
    backoff: { baseMs: 100, maxMs: 10_000, factor: 2, jitter: 0 },
    sleep: async (ms) => void delays.push(ms),
  });
  watcher.start();
  await finished;
  await watcher.stop();
  return { events, objects, asked: api.asked, delays, watcher };
}

describe('watcher', () => {
  it("lists, then watches from the list's resourceVersion with bookmarks, and resumes from the last event", async () => {
    const { events, asked } = await runScript([
      { list: [obj('a', '5')], rv: '10' },
      { watch: [line('ADDED', obj('b', '11')), line('BOOKMARK', { metadata: { resourceVersion: '15' } })] },
      { watch: [line('MODIFIED', obj('a', '16'))] },
    ]);
    expect(events).toEqual([
      ['ADDED', 'a', '5'],
      ['ADDED', 'b', '11'],
      ['MODIFIED', 'a', '16'],
    ]);
    expect(asked[1]).toEqual({ kind: 'watch', query: expect.objectContaining({ resourceVersion: '10', allowWatchBookmarks: true }) });
    expect(asked[2]!.query).toMatchObject({ resourceVersion: '15' });
  });

  it('lists in pages, following continue tokens, and a relist sees objects gone from any page as DELETED', async () => {
    const { events, asked } = await runScript([
      { list: [obj('a', '5'), obj('b', '6')], rv: '10', continue: 'page2' },
      { list: [obj('c', '7')], rv: '10' },
      { watch: [line('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' })] },
      { list: [obj('a', '5')], rv: '20', continue: 'next' },
      { list: [obj('c', '7')], rv: '20' },
    ]);
    expect(asked.filter((a) => a.kind === 'list').map((a) => a.query)).toEqual([
      expect.objectContaining({ limit: LIST_PAGE, continue: undefined }),
      expect.objectContaining({ limit: LIST_PAGE, continue: 'page2' }),
      expect.objectContaining({ limit: LIST_PAGE, continue: undefined }),
      expect.objectContaining({ limit: LIST_PAGE, continue: 'next' }),
    ]);
    expect(asked[2]).toEqual({ kind: 'watch', query: expect.objectContaining({ resourceVersion: '10' }) });
    expect(events).toEqual([
      ['ADDED', 'a', '5'],
      ['ADDED', 'b', '6'],
      ['ADDED', 'c', '7'],
      ['MODIFIED', 'a', '5'],
      ['MODIFIED', 'c', '7'],
      ['DELETED', 'b', '6'],
    ]);
  });

  it('tells where an object it has seen is, by uid, and forgets one it saw deleted', async () => {
    const { watcher } = await runScript([{ list: [obj('a', '5', 'ua'), obj('b', '6', 'ub')], rv: '10' }, { watch: [line('DELETED', obj('b', '11', 'ub'))] }]);
    expect(watcher.find('ua')).toEqual({ name: 'a', namespace: 'demo' });
    expect(watcher.find('ub')).toBeUndefined();
    expect(watcher.find('never')).toBeUndefined();
  });

  it("gives a list's items the list's apiVersion and kind, which the API server leaves out of them", async () => {
    const bare = { metadata: { name: 'a', namespace: 'demo', uid: 'ua', resourceVersion: '5' } } as KubeObject;
    const typed = { apiVersion: 'apps/v1beta2', kind: 'Deployment', metadata: { name: 'b', namespace: 'demo', uid: 'ub', resourceVersion: '6' } };
    const { objects } = await runScript([{ list: [bare, typed], rv: '10', apiVersion: 'apps/v1', kind: 'DeploymentList' }]);
    expect(objects.map((o) => [o.apiVersion, o.kind, o.metadata.name])).toEqual([
      ['apps/v1', 'Deployment', 'a'],
      ['apps/v1beta2', 'Deployment', 'b'],
    ]);
  });

  it('tells the resourceVersion of the last event it brought of an object, and none after its deletion', async () => {
    const { watcher } = await runScript([
      { list: [obj('a', '5', 'ua'), obj('b', '6', 'ub')], rv: '10' },
      { watch: [line('MODIFIED', obj('a', '12', 'ua')), line('MODIFIED', obj('a', '14', 'ua')), line('DELETED', obj('b', '15', 'ub'))] },
    ]);
    expect(watcher.resourceVersionOf('ua')).toBe('14');
    expect(watcher.resourceVersionOf('ub')).toBeUndefined();
    expect(watcher.resourceVersionOf('never')).toBeUndefined();
  });

  it('relists after 410 Gone sent as an ERROR event in the stream', async () => {
    const { asked, events } = await runScript([
      { list: [obj('a', '5')], rv: '10' },
      { watch: [line('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' })] },
      { list: [obj('a', '20')], rv: '20' },
    ]);
    expect(asked.map((a) => a.kind)).toEqual(['list', 'watch', 'list', 'watch']);
    expect(events.at(-1)).toEqual(['MODIFIED', 'a', '20']);
  });

  it('relists after an HTTP 410 on the watch request', async () => {
    const { asked } = await runScript([
      { list: [], rv: '10' },
      { watchError: new ApiError(410, 'Gone') },
      { list: [], rv: '30' },
    ]);
    expect(asked.map((a) => a.kind)).toEqual(['list', 'watch', 'list', 'watch']);
  });

  it('backs off exponentially on errors, honours Retry-After on 429, and never gives up', async () => {
    const { delays, asked } = await runScript([
      { error: new ApiError(500, 'boom') },
      { error: new ApiError(503, 'unavailable') },
      { error: new ApiError(429, 'slow down', 'TooManyRequests', 7) },
      { error: new ApiError(500, 'boom') },
      { list: [], rv: '1' },
    ]);
    expect(delays.slice(0, 4)).toEqual([100, 200, 7_000, 400]);
    expect(asked.filter((a) => a.kind === 'list')).toHaveLength(5);
  });

  it('emits DELETED for objects that vanished between two lists', async () => {
    const { events } = await runScript([
      { list: [obj('a', '1'), obj('b', '2')], rv: '2' },
      { watch: [line('ERROR', { code: 410, message: 'gone' })] },
      { list: [obj('a', '1')], rv: '9' },
    ]);
    expect(events).toContainEqual(['DELETED', 'b', '2']);
  });
});

describe('watcher liveness', () => {
  /** Watches that hang silently until aborted, as a stalled connection does; lists answer at once. */
  class SilentApi implements Api {
    lists = 0;
    watches = 0;
    async request<T>(): Promise<T> {
      this.lists++;
      return { metadata: { resourceVersion: String(this.lists) }, items: [] } as T;
    }
    async stream(_path: string, opts: RequestOptions): Promise<AsyncIterable<string>> {
      this.watches++;
      const signal = opts.signal!;
      return (async function* () {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        throw new DOMException('aborted', 'AbortError');
        yield ''; // never reached: keeps this an async generator of strings
      })();
    }
  }

  it('reconnects after a set time with no event and no bookmark, from the same resourceVersion', async () => {
    const api = new SilentApi();
    const w = new Watcher({ api, path: '/x', onEvent: () => {}, stallMs: 30, sleep: async () => {} });
    w.start();
    while (api.watches < 3) await new Promise((r) => setTimeout(r, 10));
    await w.stop();
    expect(api.lists).toBe(1);
  });

  it('relists on its interval, as a level-triggered safety net', async () => {
    const api = new SilentApi();
    const listed: number[] = [];
    const w = new Watcher({ api, path: '/x', onEvent: () => {}, onListed: () => listed.push(Date.now()), relistIntervalMs: 40, sleep: async () => {} });
    w.start();
    while (listed.length < 3) await new Promise((r) => setTimeout(r, 10));
    await w.stop();
    expect(api.lists).toBeGreaterThanOrEqual(3);
  });
});
