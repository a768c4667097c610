// Why: the handler API a workshop participant writes against: one resource, its kustomize specs and its handlers.
import type { Logger } from 'pino';
import type { Api, KubeObject, ResourceRef } from '../kube/api.ts';
import type { KubectlResult, KubectlRunner } from '../kubectl/runner.ts';
import type { ApplyOutput } from '../kustomize/commands.ts';
import type { KustomizeSpec } from '../kustomize/workdir.ts';

/**
 * Why a step runs. `repair` re-applies the kustomize specs of an object whose last attempt failed, although its
 * spec is back to what was last handled (the failed attempt may have changed some children).
 */
export type Cause = 'create' | 'update' | 'resume' | 'repair' | 'delete' | 'timer';

/** A custom resource whose spec has the operator's type. */
export type CustomResource<Spec> = KubeObject & { spec: Spec };

/** One change under the object's spec, labels or annotations, kopf-style: [op, path, old, new]. */
export type DiffEntry = [op: 'add' | 'change' | 'remove', path: string[], old: unknown, new: unknown];

/** What a handler reacts to: spec, labels and annotations, without status and metadata noise. */
export interface Essence {
  spec?: unknown;
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** What a handler gets: the object as this reconcile read it at its start (see Reconciler.read). */
export interface HandlerContext<Spec = Record<string, unknown>> {
  cause: Cause;
  body: CustomResource<Spec>;
  spec: Spec;
  name: string;
  namespace: string;
  /**
   * For updates: the last-handled essence (when it was small enough to keep), the new one, and their diff.
   * For field handlers: the field's old and new values, and the diff under the field.
   */
  old?: Essence | unknown;
  new?: Essence | unknown;
  diff?: DiffEntry[] | undefined;
  /** How many times this object's current state has failed so far. */
  retry: number;
  logger: Logger;
  /** The shared kubectl runner, talking to the same cluster as the operator. */
  kubectl: KubectlRunner;
  /** The Kubernetes API, for what a handler reads or creates itself (see `adopt`). */
  api: Api;
  /** Marks an object the handler creates itself as this resource's: ownerReference, namespace and labels. */
  adopt<T extends { metadata?: Record<string, unknown> }>(child: T): T;
  /**
   * Renders a work dir for `spec`: `apply` applies it (server-side) once every rendered object that already exists
   * is this resource's (else a NotOwned failure, nothing touched); `delete` deletes the rendered objects that are
   * this resource's, and returns which. A failing kubectl run throws KubectlError.
   */
  kustomize: {
    apply(spec: KustomizeSpec): Promise<ApplyOutput>;
    delete(spec: KustomizeSpec): Promise<string[]>;
  };
  /** Aborted on shutdown, on a lost lease, and when the attempt's `timeoutMs` is up. */
  signal: AbortSignal;
}

/** A handler's result is stored at status.<handler id>; return nothing to store nothing. */
export type HandlerResult = Record<string, unknown> | undefined | void;
export type Handler<Spec = Record<string, unknown>> = (ctx: HandlerContext<Spec>) => HandlerResult | Promise<HandlerResult>;

/** When a handler runs, how long an attempt may take, and how often it may fail. */
export interface HandlerOptions<Spec = Record<string, unknown>> {
  /** Labels the object must have: a value to match, true for "present", false for "absent". */
  labels?: Record<string, string | boolean>;
  /** Annotations, matched the same way. */
  annotations?: Record<string, string | boolean>;
  /** Any other condition on the current object. */
  when?: (obj: CustomResource<Spec>) => boolean;
  /**
   * After this many ms the attempt's signal is aborted (its kubectl runs are killed) and the attempt fails. The
   * next attempt starts only once this one has returned, so a handler should stop when its signal aborts.
   */
  timeoutMs?: number;
  /** After this many failed retries the handler stops: Ready=False, Stalled, reason RetriesExhausted. */
  retries?: number;
}

export type HandlerCause = 'create' | 'update' | 'resume' | 'delete' | 'field';

export interface RegisteredHandler<Spec = any> {
  kind: 'handler';
  id: string;
  cause: HandlerCause;
  fn: Handler<Spec>;
  options: HandlerOptions<Spec>;
  /** For field handlers: the path they watch, e.g. ['spec', 'count']. */
  field?: string[];
}

/** Extra steps around a kustomize spec's kubectl run. */
export interface KustomizeHooks<Spec = Record<string, unknown>> {
  /** Runs before apply (not before delete), e.g. to create a Secret the base refers to. */
  beforeApply?: (ctx: HandlerContext<Spec>) => Promise<void>;
  /**
   * Builds the stored result from the apply; default `{message: output.stdout}` (kubectl's lines, such as
   * `deployment.apps/web serverside-applied`). `output.objects` are the objects as applied.
   */
  result?: (ctx: HandlerContext<Spec>, output: ApplyOutput) => HandlerResult | Promise<HandlerResult>;
}

export interface RegisteredKustomization<Spec = any> {
  kind: 'kustomize';
  id: string;
  build: (obj: CustomResource<Spec>) => KustomizeSpec;
  hooks: KustomizeHooks<Spec>;
}

/** The steps of an operator, in the order they were registered. */
export type Step<Spec = any> = RegisteredHandler<Spec> | RegisteredKustomization<Spec>;

export interface TimerOptions<Spec = Record<string, unknown>> {
  /** How often, per object: a number of ms, or a function of the object. */
  intervalMs: number | ((obj: CustomResource<Spec>) => number);
}

export interface RegisteredTimer<Spec = any> extends TimerOptions<Spec> {
  id: string;
  fn: Handler<Spec>;
}

/** Returns problems with the object; any problem makes it Ready=False/InvalidSpec with no retry until it changes. */
export type Validator<Spec = Record<string, unknown>> = (obj: CustomResource<Spec>) => string[];

/** What happens when a child differs from what was applied: re-apply it, only report it, or neither. */
export type DriftMode = 'correct' | 'warn' | 'ignore';

/** A child's health: `failed` means waiting will not help (a failed Job), so Ready turns HealthCheckFailed at once. */
export interface Health {
  healthy: boolean;
  message: string;
  failed?: boolean;
}

export interface OperatorOptions {
  /** Short name used on the command line and in metrics, e.g. `sample`. */
  name: string;
  resource: ResourceRef;
  /** Folder holding this operator's kustomize bases, one subfolder per base; default: the runtime's `basesDir`. */
  basesDir?: string;
  /** A child deleted or changed by hand: `correct` (default) re-applies it, `warn` reports it, `ignore` does neither. */
  drift?: DriftMode;
  /** How long children may take to become healthy after an apply before Ready says HealthCheckFailed (default 5 min). */
  healthTimeoutMs?: number;
  /**
   * Spec fields that hold secrets (`spec.password`): status never holds their values. The last-handled record keeps
   * a digest of each (`secretDigest(uid, value)`), so a change is still seen, and update handlers get that digest
   * as the old and new value; `ctx.spec` holds the real value.
   */
  secretFields?: string[];
}

const ID = /^[a-z][a-z0-9_]*$/;
/** Status fields kustomate writes itself: a step with one of these ids would overwrite them. */
const RESERVED_IDS = ['conditions', 'observedgeneration', 'kustomate', 'inventory'];
/** setTimeout cannot wait longer than this (a signed 32-bit count of ms); longer delays would fire at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
const OPERATOR = Symbol.for('kustomate.operator');

/** True for an Operator, also one built by another copy of the kustomate package (an operator module's own). */
export function isOperator(value: unknown): value is Operator<any> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[OPERATOR] === true;
}

/**
 * One resource, its kustomize specs, handlers, validators and timers.
 *
 * Guarantees: at most one reconcile runs per object at a time; a handler always gets the object as loaded at the
 * start of its reconcile; results, conditions and the retry state are written once per reconcile.
 * Caveats: handlers must be idempotent. A step may run again after a crash, a failed status write or a lost lease,
 * and every step is retried after a failure.
 */
export class Operator<Spec = Record<string, unknown>> {
  readonly [OPERATOR] = true;
  readonly name: string;
  readonly resource: ResourceRef;
  readonly basesDir: string | undefined;
  readonly drift: DriftMode | undefined;
  readonly healthTimeoutMs: number | undefined;
  readonly secretFields: readonly string[];
  /** Health rules of this operator, by `Kind` or `group/Kind`. */
  readonly healthChecks: Record<string, (obj: KubeObject) => Health | undefined> = {};
  readonly steps: Step<Spec>[] = [];
  readonly validators: Validator<Spec>[] = [];
  readonly timers: RegisteredTimer<Spec>[] = [];

  constructor(opts: OperatorOptions) {
    this.name = opts.name;
    this.resource = opts.resource;
    this.basesDir = opts.basesDir;
    if (opts.drift !== undefined && !['correct', 'warn', 'ignore'].includes(opts.drift)) throw new Error(`drift must be correct, warn or ignore, got ${String(opts.drift)}`);
    this.drift = opts.drift;
    checkDelay('healthTimeoutMs', opts.healthTimeoutMs);
    this.healthTimeoutMs = opts.healthTimeoutMs;
    const badField = (opts.secretFields ?? []).find((f) => !/^spec(\.[^.]+)+$/.test(f));
    if (badField !== undefined) throw new Error(`secretFields: "${badField}" must be a field under spec, such as spec.password`);
    this.secretFields = [...(opts.secretFields ?? [])];
  }

  private checkId(id: string): void {
    if (!ID.test(id)) throw new Error(`step id "${id}" must match ${ID} (it becomes a status field)`);
    if (RESERVED_IDS.includes(id.toLowerCase())) throw new Error(`step id "${id}" is a status field kustomate writes itself; choose another`);
    if (this.steps.some((s) => s.id === id) || this.timers.some((t) => t.id === id)) {
      throw new Error(`step id "${id}" is registered twice`);
    }
  }

  private on(cause: HandlerCause, id: string, fn: Handler<Spec>, options: HandlerOptions<Spec> = {}, field?: string[]): this {
    this.checkId(id);
    checkDelay(`${id}: timeoutMs`, options.timeoutMs);
    this.steps.push({ kind: 'handler', id, cause, fn, options, ...(field ? { field } : {}) });
    return this;
  }

  /**
   * Runs `fn` every interval for each object whose last reconcile succeeded and that is not being deleted. Its
   * result is stored at status.<id>, written only when it changed. A failing timer is logged and tried again at
   * its next interval; it never changes the Ready condition. Timers run inside the object's reconcile, never beside it.
   */
  timer(id: string, opts: TimerOptions<Spec>, fn: Handler<Spec>): this {
    this.checkId(id);
    if (typeof opts.intervalMs === 'number') checkDelay(`${id}: intervalMs`, opts.intervalMs);
    this.timers.push({ id, fn, ...opts });
    return this;
  }

  onCreate(id: string, fn: Handler<Spec>, options?: HandlerOptions<Spec>): this {
    return this.on('create', id, fn, options);
  }
  onUpdate(id: string, fn: Handler<Spec>, options?: HandlerOptions<Spec>): this {
    return this.on('update', id, fn, options);
  }
  /** Delete steps run in the reverse order of registration: what was set up last is torn down first. */
  onDelete(id: string, fn: Handler<Spec>, options?: HandlerOptions<Spec>): this {
    return this.on('delete', id, fn, options);
  }
  /** Runs once per process for objects that exist when it starts and need no create or update. */
  onResume(id: string, fn: Handler<Spec>, options?: HandlerOptions<Spec>): this {
    return this.on('resume', id, fn, options);
  }
  /**
   * Runs when one field (a dotted path such as `spec.count`) differs from the last-handled configuration, on
   * create too (the old value is then undefined). `ctx.old`/`ctx.new` are the field's values and `ctx.diff`
   * the changes under it.
   */
  onField(id: string, field: string, fn: Handler<Spec>, options?: HandlerOptions<Spec>): this {
    const path = field.split('.').filter(Boolean);
    if (path.length === 0) throw new Error(`field handler ${id} needs a field path such as spec.count`);
    return this.on('field', id, fn, options, path);
  }

  /**
   * Judges the health of children of one kind (`Kind`, or `group/Kind` such as `batch/Job`), in place of the
   * built-in rules; return undefined to leave the judgement to them.
   */
  healthCheck(kind: string, check: (obj: KubeObject) => Health | undefined): this {
    if (!/^([a-z0-9.-]*\/)?[A-Z][A-Za-z0-9]*$/.test(kind)) throw new Error(`health check kind "${kind}" must be Kind or group/Kind`);
    this.healthChecks[kind] = check;
    return this;
  }

  validate(fn: Validator<Spec>): this {
    this.validators.push(fn);
    return this;
  }

  /**
   * The Nuvolaris pattern in one call: `build` turns the object into a kustomize spec. Create, update and repair
   * run `kubectl apply -k` on a fresh work dir; delete deletes what those applies created (the inventory). The result (kubectl's output as
   * `message`, or what `hooks.result` returns) is stored at status.<id>. An operator may have several.
   */
  kustomize(id: string, build: (obj: CustomResource<Spec>) => KustomizeSpec, hooks: KustomizeHooks<Spec> = {}): this {
    this.checkId(id);
    this.steps.push({ kind: 'kustomize', id, build, hooks });
    return this;
  }

  /** The kustomize specs of an object, by id, as the reconciler would build them (for `kustomate render`). */
  render(obj: KubeObject): Array<{ id: string; spec: KustomizeSpec }> {
    const specs = this.kustomizations().map((k) => ({ id: k.id, spec: k.build(obj as CustomResource<Spec>) }));
    if (specs.length === 0) throw new Error(`operator ${this.name} has no kustomize spec to render`);
    return specs;
  }

  /** All validation problems of an object: anything the API server let through, whatever its spec holds. */
  problems(obj: KubeObject): string[] {
    return this.validators.flatMap((v) => v(obj as CustomResource<Spec>));
  }

  kustomizations(): RegisteredKustomization<Spec>[] {
    return this.steps.filter((s): s is RegisteredKustomization<Spec> => s.kind === 'kustomize');
  }

  handlersFor(cause: HandlerCause): RegisteredHandler<Spec>[] {
    return this.steps.filter((s): s is RegisteredHandler<Spec> => s.kind === 'handler' && s.cause === cause);
  }

  /** Whether deleting an object has work to do, so a finalizer must hold it until that work is done. */
  get needsFinalizer(): boolean {
    return this.kustomizations().length > 0 || this.handlersFor('delete').length > 0;
  }
}

function checkDelay(what: string, ms: number | undefined): void {
  if (ms === undefined) return;
  if (!Number.isFinite(ms) || ms <= 0 || ms > MAX_TIMEOUT_MS) throw new Error(`${what} must be between 1 and ${MAX_TIMEOUT_MS} ms, got ${ms}`);
}
