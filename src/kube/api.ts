// Why: a small typed door to the Kubernetes REST API, with status codes kept (409, 410, 429 drive retries).
import { HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { fetch, type Dispatcher } from 'undici';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';

export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
  ownerReferences?: Array<Record<string, unknown>>;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: Record<string, unknown>;
  [key: string]: unknown;
}

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly reason: string | undefined;
  /** Seconds from a Retry-After header (429, 503), when the server sent one. */
  readonly retryAfterSeconds: number | undefined;
  constructor(status: number, message: string, reason?: string, retryAfterSeconds?: number) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Path of a collection or object: /api/v1/... for the core group, /apis/G/V/... otherwise. */
export function resourcePath(ref: ResourceRef, namespace?: string, name?: string, subresource?: string): string {
  const prefix = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name ? `/${encodeURIComponent(name)}` : '';
  const sub = subresource ? `/${subresource}` : '';
  return `${prefix}${ns}/${ref.plural}${obj}${sub}`;
}

export type PatchType = 'merge' | 'json' | 'strategic';
const PATCH_CONTENT: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** The subset of the API the runtime uses; unit tests substitute it. */
export interface Api {
  request<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  stream(path: string, opts: RequestOptions): Promise<AsyncIterable<string>>;
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

export class KubeApi implements Api {
  private readonly kc: KubeConfig;
  constructor(kc: KubeConfig) {
    this.kc = kc;
  }

  private async prepare(method: string, path: string, opts: RequestOptions) {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), method as HttpMethod);
    await this.kc.applySecurityAuthentication(ctx);
    const headers = ctx.getHeaders() as unknown as Record<string, string>;
    headers['accept'] = 'application/json';
    if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    const signals = [opts.signal, opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    return {
      url,
      init: {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        dispatcher: ctx.getDispatcher() as Dispatcher | undefined,
        signal: signals.length ? AbortSignal.any(signals) : undefined,
      },
    };
  }

  private static async fail(res: Awaited<ReturnType<typeof fetch>>, method: string, path: string): Promise<never> {
    const text = await res.text().catch(() => '');
    let message = text || res.statusText;
    let reason: string | undefined;
    try {
      const status = JSON.parse(text) as { message?: string; reason?: string };
      message = status.message ?? message;
      reason = status.reason;
    } catch {
      // not a Status object; keep the raw text
    }
    throw new ApiError(res.status, `${method} ${path}: ${res.status} ${message}`, reason, parseRetryAfter(res.headers.get('retry-after')));
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const { url, init } = await this.prepare(method, path, { timeoutMs: 30_000, ...opts });
    const res = await fetch(url, init);
    if (!res.ok) await KubeApi.fail(res, method, path);
    return (await res.json()) as T;
  }

  /** Opens a streaming GET (a watch) and yields its lines; ends when the server closes the stream. */
  async stream(path: string, opts: RequestOptions): Promise<AsyncIterable<string>> {
    const { url, init } = await this.prepare('GET', path, opts);
    const res = await fetch(url, init);
    if (!res.ok) await KubeApi.fail(res, 'GET', path);
    if (!res.body) throw new ApiError(res.status, `GET ${path}: empty body`);
    return createInterface({ input: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), crlfDelay: Infinity });
  }
}

export const patchContentType = (type: PatchType): string => PATCH_CONTENT[type];
