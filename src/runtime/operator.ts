// Why: the kopf-like handler API a workshop participant writes against: register handlers for one resource.
import type { Logger } from 'pino';
import type { Api, KubeObject, ResourceRef } from '../kube/api.ts';
import type { KubectlResult, KubectlRunner } from '../kubectl/runner.ts';
import type { KustomizeSpec } from '../kustomize/workdir.ts';
import type { DiffEntry, Essence } from './essence.ts';

export type Cause = 'create' | 'update' | 'delete' | 'resume' | 'timer';

/** What a handler gets: always the current object, never the watch event. */
export interface HandlerContext {
  cause: Cause;
  body: KubeObject;
  spec: Record<string, unknown>;
  name: string;
  namespace: string;
  /**
   * For updates: the last-handled essence (when it was small enough to keep), the new one, and their diff.
   * For field handlers: the field's old and new values, and the diff under the field.
   */
  old?: Essence | unknown;
  new?: Essence | unknown;
  diff?: DiffEntry[] | undefined;
  /** How many times this handler has failed for the current state of the object. */
  retry: number;
  logger: Logger;
  /** The shared kubectl runner, talking to the same cluster as the operator. */
  kubectl: KubectlRunner;
  /** The Kubernetes API, for what a handler reads or creates itself (see `adopt`). */
  api: Api;
  /** Marks an object the handler creates itself as this resource's: ownerReference, namespace and labels. */
  adopt<T extends { metadata?: Record<string, unknown> }>(child: T): T;
  /** Render a work dir for `spec` and apply, delete or only render it; a non-zero exit throws KubectlError. */
  kustomize: {
    apply(spec: KustomizeSpec): Promise<KubectlResult>;
    delete(spec: KustomizeSpec): Promise<KubectlResult>;
  };
  /** Aborted when the operator is shutting down. */
  signal: AbortSignal;
}

/** A handler's result is stored at status.<handler id>; return nothing to store nothing. */
export type HandlerResult = Record<string, unknown> | undefined | void;
export type Handler = (ctx: HandlerContext) => HandlerResult | Promise<HandlerResult>;

/** When a handler runs, how long an attempt may take, and how often it may fail. */
export interface HandlerOptions {
  /** Labels the object must have: a value to match, true for "present", false for "absent". */
  labels?: Record<string, string | boolean>;
  /** Annotations, matched the same way. */
  annotations?: Record<string, string | boolean>;
  /** Any other condition on the current object. */
  when?: (obj: KubeObject) => boolean;
  /** One attempt is aborted (its kubectl runs killed) and counted as a failure after this many ms. */
  timeoutMs?: number;
  /** After this many failed retries the handler stops: Ready=False, Stalled, reason RetriesExhausted. */
  retries?: number;
}

export interface RegisteredHandler {
  id: string;
  cause: Cause | 'field';
  fn: Handler;
  options: HandlerOptions;
  /** For field handlers: the path they watch, e.g. ['spec', 'count']. */
  field?: string[];
}

export interface TimerOptions {
  /** How often, per object: a number of ms, or a function of the object. */
  intervalMs: number | ((obj: KubeObject) => number);
}

export interface RegisteredTimer extends TimerOptions {
  id: string;
  fn: Handler;
}

/** Extra steps around the kustomize handler's kubectl run. */
export interface KustomizeHooks {
  /** Runs before apply (not before delete), e.g. to create a Secret the base refers to. */
  beforeApply?: (ctx: HandlerContext) => Promise<void>;
  /** Builds the stored result from kubectl's output; default `{message: stdout}`. */
  result?: (ctx: HandlerContext, output: KubectlResult) => HandlerResult | Promise<HandlerResult>;
}

/** Returns problems with the object; any problem makes it Ready=False/InvalidSpec with no retry until it changes. */
export type Validator = (obj: KubeObject) => string[];

export interface OperatorOptions {
  /** Short name used on the command line, e.g. `sample`. */
  name: string;
  resource: ResourceRef;
}

const ID = /^[a-z][a-z0-9_]*$/;

/**
 * One resource and its handlers. Handlers must be idempotent: a create may run again after a crash, and every
 * handler may be retried. The object passed in is the freshest one the operator has.
 */
export class Operator {
  readonly name: string;
  readonly resource: ResourceRef;
  readonly handlers: RegisteredHandler[] = [];
  readonly validators: Validator[] = [];
  readonly timers: RegisteredTimer[] = [];
  private builder?: (obj: KubeObject) => KustomizeSpec;

  constructor(opts: OperatorOptions) {
    this.name = opts.name;
    this.resource = opts.resource;
  }

  private checkId(id: string): void {
    if (!ID.test(id)) throw new Error(`handler id "${id}" must match ${ID} (it becomes a status field)`);
    if (this.handlers.some((h) => h.id === id) || this.timers.some((t) => t.id === id)) {
      throw new Error(`handler id "${id}" is registered twice`);
    }
  }

  private on(cause: Cause | 'field', id: string, fn: Handler, options: HandlerOptions = {}, field?: string[]): this {
    this.checkId(id);
    this.handlers.push({ id, cause, fn, options, ...(field ? { field } : {}) });
    return this;
  }

  /**
   * Runs `fn` every interval for each object that has been created successfully and is not being deleted. Its
   * result is stored at status.<id>, written only when it changed. A failing timer is logged and tried again
   * at its next interval; it never changes the Ready condition. Timers run between handlers, never beside them.
   */
  timer(id: string, opts: TimerOptions, fn: Handler): this {
    this.checkId(id);
    this.timers.push({ id, fn, ...opts });
    return this;
  }

  onCreate(id: string, fn: Handler, options?: HandlerOptions): this {
    return this.on('create', id, fn, options);
  }
  onUpdate(id: string, fn: Handler, options?: HandlerOptions): this {
    return this.on('update', id, fn, options);
  }
  onDelete(id: string, fn: Handler, options?: HandlerOptions): this {
    return this.on('delete', id, fn, options);
  }
  /** Runs once per process for objects that exist when it starts and need no create or update. */
  onResume(id: string, fn: Handler, options?: HandlerOptions): this {
    return this.on('resume', id, fn, options);
  }
  /**
   * Runs when one field (a dotted path such as `spec.count`) differs from the last-handled configuration, on
   * create too (the old value is then undefined). `ctx.old`/`ctx.new` are the field's values and `ctx.diff`
   * the changes under it.
   */
  onField(id: string, field: string, fn: Handler, options?: HandlerOptions): this {
    const path = field.split('.').filter(Boolean);
    if (path.length === 0) throw new Error(`field handler ${id} needs a field path such as spec.count`);
    return this.on('field', id, fn, options, path);
  }

  validate(fn: Validator): this {
    this.validators.push(fn);
    return this;
  }

  /**
   * The Nuvolaris pattern in one call: `build` turns the object into a kustomize spec; create and update run
   * `kubectl apply -k`, delete runs `kubectl delete -k`; kubectl's output is the handler's `message`.
   * Handler ids are `<id>_create`, `<id>_update` and `<id>_delete`.
   */
  kustomize(id: string, build: (obj: KubeObject) => KustomizeSpec, hooks: KustomizeHooks = {}): this {
    if (this.builder) throw new Error(`operator ${this.name} already has a kustomize handler`);
    this.builder = build;
    const apply: Handler = async (ctx) => {
      const spec = build(ctx.body);
      await hooks.beforeApply?.(ctx);
      const output = await ctx.kustomize.apply(spec);
      return hooks.result ? hooks.result(ctx, output) : { message: output.stdout };
    };
    this.onCreate(`${id}_create`, apply);
    this.onUpdate(`${id}_update`, apply);
    this.onDelete(`${id}_delete`, async (ctx) => ({ message: (await ctx.kustomize.delete(build(ctx.body))).stdout }));
    return this;
  }

  /** The kustomize spec for an object, as the kustomize handler would build it (for `kustomate render`). */
  render(obj: KubeObject): KustomizeSpec {
    if (!this.builder) throw new Error(`operator ${this.name} has no kustomize handler to render`);
    return this.builder(obj);
  }

  /** All validation problems of an object. */
  problems(obj: KubeObject): string[] {
    return this.validators.flatMap((v) => v(obj));
  }

  handlersFor(cause: Cause | 'field'): RegisteredHandler[] {
    return this.handlers.filter((h) => h.cause === cause);
  }
}
