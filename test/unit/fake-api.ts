// Why: an in-memory stand-in for the API server, for unit tests of one module (never for end-to-end tests).
import { ApiError, type Api, type KubeObject, type RequestOptions } from '../../src/kube/api.ts';
import { sortKeys } from '../../src/reconcile/json.ts';

type Json = Record<string, unknown>;

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Json = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [k, v] of Object.entries(patch as Json)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function pointer(obj: Json, path: string): { parent: Json | unknown[]; key: string } {
  const parts = path.split('/').slice(1);
  let cur: unknown = obj;
  for (const p of parts.slice(0, -1)) cur = (cur as Json)[p];
  return { parent: cur as Json, key: parts[parts.length - 1]! };
}

export interface Call {
  method: string;
  path: string;
  body?: unknown;
}

/** What discovery answers for the group versions unit tests use. */
const DISCOVERY: Record<string, Array<{ name: string; kind: string; namespaced: boolean }>> = {
  '/api/v1': [
    { name: 'pods', kind: 'Pod', namespaced: true },
    { name: 'services', kind: 'Service', namespaced: true },
    { name: 'configmaps', kind: 'ConfigMap', namespaced: true },
    { name: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
  ],
  '/apis/apps/v1': [{ name: 'deployments', kind: 'Deployment', namespaced: true }],
  '/apis/batch/v1': [{ name: 'jobs', kind: 'Job', namespaced: true }],
};

/** Stores objects by path; supports GET, DELETE, merge and JSON patches (status included), POST of Events, discovery. */
export class FakeApi implements Api {
  readonly objects = new Map<string, KubeObject>();
  readonly events: Json[] = [];
  readonly calls: Call[] = [];
  private rv = 1;
  /** Throw this from the next matching request, once. */
  failNext?: { method: string; error: ApiError };
  /** Throw what this returns (for every request it returns an error for). */
  failWhen?: (method: string, path: string) => ApiError | undefined;
  /** Awaited before each request is answered: a test holds one back to see what runs meanwhile. */
  holdWhen?: (method: string, path: string) => Promise<void> | undefined;

  put(path: string, obj: KubeObject): KubeObject {
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    stored.metadata.generation ??= 1;
    this.objects.set(path, stored);
    return structuredClone(stored);
  }

  get(path: string): KubeObject | undefined {
    const o = this.objects.get(path);
    return o ? structuredClone(o) : undefined;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    this.calls.push({ method, path, body: opts.body });
    await this.holdWhen?.(method, path);
    const injected = this.failWhen?.(method, path);
    if (injected) throw injected;
    if (this.failNext && this.failNext.method === method) {
      const { error } = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    if (method === 'POST' && path.endsWith('/events')) {
      this.events.push(opts.body as Json);
      return opts.body as T;
    }
    if (method === 'GET' && DISCOVERY[path]) return { resources: DISCOVERY[path] } as T;
    const isStatus = path.endsWith('/status');
    const key = isStatus ? path.slice(0, -'/status'.length) : path;
    const current = this.objects.get(key);
    if (!current) throw new ApiError(404, `${method} ${path}: not found`, 'NotFound');
    if (method === 'GET') return structuredClone(current) as T;
    if (method === 'DELETE') {
      const uid = (opts.body as { preconditions?: { uid?: string } } | undefined)?.preconditions?.uid;
      if (uid !== undefined && uid !== current.metadata.uid) throw new ApiError(409, 'Precondition failed: UID', 'Conflict');
      this.objects.delete(key);
      return structuredClone(current) as T;
    }
    if (method !== 'PATCH') throw new Error(`FakeApi: ${method} not supported`);
    let next: KubeObject;
    if (opts.contentType === 'application/json-patch+json') {
      next = structuredClone(current);
      for (const op of opts.body as Array<{ op: string; path: string; value?: unknown }>) {
        const { parent, key: k } = pointer(next as unknown as Json, op.path);
        const idx = Array.isArray(parent) ? Number(k) : -1;
        if (op.op === 'test') {
          const v = Array.isArray(parent) ? parent[idx] : (parent as Json)[k];
          if (JSON.stringify(v) !== JSON.stringify(op.value)) throw new ApiError(422, 'test failed', 'Invalid');
        } else if (op.op === 'remove') {
          if (Array.isArray(parent)) parent.splice(idx, 1);
          else delete (parent as Json)[k];
        } else if (op.op === 'add') {
          if (Array.isArray(parent)) parent.splice(k === '-' ? parent.length : idx, 0, op.value);
          else (parent as Json)[k] = op.value;
        }
      }
    } else {
      const body = structuredClone(opts.body) as Json & { metadata?: Json };
      const wantRv = body.metadata?.resourceVersion;
      if (wantRv !== undefined && wantRv !== current.metadata.resourceVersion) throw new ApiError(409, 'conflict', 'Conflict');
      if (body.metadata?.uid !== undefined && body.metadata.uid !== current.metadata.uid) throw new ApiError(409, 'Precondition failed: UID', 'Conflict');
      if (body.metadata) delete body.metadata.resourceVersion;
      // The /status subresource ignores everything but status; the main resource ignores status.
      const effective = isStatus ? { status: body.status } : { ...body, status: undefined };
      if (!isStatus) delete effective.status;
      next = mergePatch(current, effective) as KubeObject;
    }
    if (!isStatus && JSON.stringify(next.spec) !== JSON.stringify(current.spec)) next.metadata.generation = (current.metadata.generation ?? 1) + 1;
    next.metadata.resourceVersion = String(++this.rv);
    // The API server hands objects back with their keys sorted, whatever order they were written in.
    const stored = sortKeys(next) as KubeObject;
    this.objects.set(key, stored);
    return structuredClone(stored) as T;
  }

  async stream(): Promise<AsyncIterable<string>> {
    throw new Error('FakeApi.stream: use a scripted Api in watcher tests');
  }
}
