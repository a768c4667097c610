// Why: a small typed door to the Kubernetes REST API, with status codes kept (409, 410, 429 drive retries).
import type httpTypes from 'node:http';
import { http } from './node-http.ts';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type { ClusterAccess, ConnectionUse } from './credentials.ts';

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
  /**
   * Sent on a connection of its own, never queued behind the reconciles' requests (at most REQUEST_CONNECTIONS at
   * once): the leader's Lease, whose renewal must not wait for a burst.
   */
  urgent?: boolean;
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

async function readAll(res: httpTypes.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

export class KubeApi implements Api {
  private readonly access: ClusterAccess;
  constructor(access: ClusterAccess) {
    this.access = access;
  }

  /** Sends one request; resolves with the response once its headers are in, rejects with ApiError on 4xx/5xx. */
  private async send(method: string, path: string, opts: RequestOptions, use: ConnectionUse = 'request'): Promise<httpTypes.IncomingMessage> {
    const url = new URL(this.access.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string | number> = { ...(await this.access.headers()), accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const { signal } = opts;
    const agent = await this.access.agent(use);
    const res = await new Promise<httpTypes.IncomingMessage>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, agent, ...(signal ? { signal } : {}) }, (r) => {
        signal?.removeEventListener('abort', abandon);
        resolve(r);
      });
      // A request waiting for a free connection ignores its signal until it gets one: give up on it at once.
      const abandon = () => reject(signal?.reason instanceof Error ? signal.reason : new DOMException('the request was aborted', 'AbortError'));
      if (signal?.aborted) abandon();
      else signal?.addEventListener('abort', abandon, { once: true });
      req.on('error', (err) => {
        signal?.removeEventListener('abort', abandon);
        reject(err);
      });
      req.end(body);
    });
    const status = res.statusCode ?? 0;
    if (status < 400) return res;
    const text = await readAll(res).catch(() => '');
    let message = text || res.statusMessage || '';
    let reason: string | undefined;
    try {
      const parsed = JSON.parse(text) as { message?: string; reason?: string };
      message = parsed.message ?? message;
      reason = parsed.reason;
    } catch {
      // not a Status object; keep the raw text
    }
    if (status === 401) this.access.invalidate();
    const retryAfter = res.headers['retry-after'];
    throw new ApiError(status, `${method} ${path}: ${status} ${message}`, reason, parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : null));
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const limit = withTimeout(opts, 30_000);
    try {
      const res = await this.send(method, path, limit.opts, opts.urgent ? 'urgent' : 'request');
      return JSON.parse(await readAll(res)) as T;
    } finally {
      limit.clear();
    }
  }

  /** Opens a streaming GET (a watch) and yields its lines; ends when the server closes the stream. */
  async stream(path: string, opts: RequestOptions): Promise<AsyncIterable<string>> {
    const limit = withTimeout(opts);
    try {
      const res = await this.send('GET', path, limit.opts, 'watch');
      res.once('close', limit.clear);
      return createInterface({ input: res, crlfDelay: Infinity });
    } catch (err) {
      limit.clear();
      throw err;
    }
  }
}

/**
 * The request's signal, aborted also when `timeoutMs` (or `fallbackMs`) is up; `clear` ends the timer once the
 * request is over. Not AbortSignal.timeout: its timer cannot be cleared, so every request would leave one behind
 * for its whole timeout, thousands of them in a burst.
 */
function withTimeout(opts: RequestOptions, fallbackMs?: number): { opts: RequestOptions; clear: () => void } {
  const ms = opts.timeoutMs ?? fallbackMs;
  if (!ms) return { opts, clear: () => {} };
  const timer = new AbortController();
  const handle = setTimeout(() => timer.abort(new DOMException(`the request timed out after ${ms} ms`, 'TimeoutError')), ms);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timer.signal]) : timer.signal;
  return { opts: { ...opts, signal }, clear: () => clearTimeout(handle) };
}

export const patchContentType = (type: PatchType): string => PATCH_CONTENT[type];
