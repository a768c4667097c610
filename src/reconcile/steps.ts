// Why: running an operator's steps for one cause: each attempt within its time limit, and after each kustomize
// apply the record (inventory) and prune steps; on deletion, the delete steps and what the inventory still holds.
import type { Logger } from 'pino';
import type { KubeObject } from '../kube/api.ts';
import { StepError, TemporaryError } from '../operator/errors.ts';
import type { Cause, Essence, HandlerContext, HandlerResult, Operator, Step } from '../operator/operator.ts';
import { deleteChild, loadChild, type ChildOwner, type ChildrenDeps, type ChildView } from './children.ts';
import { handlerContext, type ContextDeps } from './context.ts';
import type { EventInfo } from './events.ts';
import { fieldChange, passesFilters, runAttempt } from './handlers.ts';
import { describeEntry, entryOf, sameChild, stale, type Inventory, type InventoryEntry } from './inventory.ts';
import { applyKustomization } from './kustomization.ts';

/** What the steps of one reconcile did, before it is reported. */
export interface StepsOutcome {
  results: Record<string, unknown>;
  events: EventInfo[];
  failure?: { error: unknown; step: Step };
}

export interface StepDeps {
  operator: Operator<any>;
  context: ContextDeps;
  children: ChildrenDeps;
  signal: AbortSignal;
  /** Told of children an apply made, so they are watched. */
  onChildren?: ((entries: InventoryEntry[]) => void) | undefined;
  onStep?: ((outcome: { operator: string; handler: string; cause: string; ok: boolean; durationMs: number }) => void) | undefined;
}

class Cancelled extends Error {
  override name = 'Cancelled';
}

/** What the caller was writing before the first side effect failed: not the step's failure, nor its attempt. */
class NotReady extends Error {
  override name = 'NotReady';
}

/** `ready`, with its failure told apart from the step's own. */
const gate = (ready: () => Promise<KubeObject>) => () =>
  ready().catch((err: unknown) => {
    throw new NotReady((err as Error).message, { cause: err });
  });

export function pastTense(cause: Cause): string {
  return { create: 'Created', update: 'Updated', delete: 'Deleted', resume: 'Resumed', repair: 'Repaired', timer: 'Timer' }[cause];
}

/** A step result's `message`, when it has one. */
export function messageOf(result: unknown): string {
  return result && typeof result === 'object' && typeof (result as { message?: unknown }).message === 'string' ? (result as { message: string }).message : '';
}

const ownerOf = (obj: KubeObject): ChildOwner => ({ apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, uid: obj.metadata.uid ?? '' });

export class Steps {
  private readonly deps: StepDeps;

  constructor(deps: StepDeps) {
    this.deps = deps;
  }

  /**
   * The steps for a cause, in registration order: kustomize specs apply on create, update and repair, then record
   * what they applied in `inventory` (changed in place, and in `view`) and prune what they no longer render. The
   * inventory of a spec the operator no longer has is pruned whole. `ready` is awaited before the first side effect
   * (a kustomize spec's apply, a handler), and gives the object as it is from then on: the caller may still be
   * writing it (its finalizer) while the first work dir is built.
   */
  async run(
    obj: KubeObject,
    cause: Cause,
    old: Essence | undefined,
    now: Essence,
    retry: number,
    inventory: Inventory,
    view: ChildView,
    log: Logger,
    ready: () => Promise<KubeObject> = async () => obj,
  ): Promise<StepsOutcome> {
    const out: StepsOutcome = { results: {}, events: [] };
    // What each spec's last render held and this one does not: pruned once every spec has applied, so a child that
    // moved to another spec (or a spec renamed) is never deleted while that spec applies it.
    const stalePerSpec: Array<{ id: string; entries: InventoryEntry[] }> = [];
    for (const step of this.deps.operator.steps) {
      const extra = this.applies(step, cause, obj, old, now);
      if (!extra) continue;
      try {
        if (this.deps.signal.aborted) throw new Cancelled('cancelled before the step started');
        if (step.kind === 'handler') obj = await ready();
        const run = await this.attempt(step, obj, cause, retry, extra, log, this.recorder(step, inventory, view), step.kind === 'kustomize' ? gate(ready) : undefined);
        if (run.result && typeof run.result === 'object') out.results[step.id] = run.result;
        if (run.applied) {
          run.applied.forEach((o) => view.applied(o));
          stalePerSpec.push({ id: step.id, entries: this.record(step.id, run.applied.map(entryOf), inventory) });
        }
        out.events.push({ type: 'Normal', reason: pastTense(cause), message: `${step.id} succeeded${messageOf(run.result) ? `: ${messageOf(run.result)}` : ''}` });
      } catch (error) {
        // Not pruned this time: kept in their lists, so the next run that applies prunes them.
        for (const { id, entries } of stalePerSpec) inventory[id] = [...(inventory[id] ?? []), ...entries];
        out.failure = { error, step };
        return out;
      }
    }
    if (stalePerSpec.length) {
      try {
        await this.prune(obj, stalePerSpec, inventory, view, log);
        for (const id of this.orphans(inventory)) {
          inventory[id] = (inventory[id] ?? []).filter((e) => !this.held(e, inventory));
          await this.deleteInventory(obj, id, inventory, log, 'PruneFailed');
        }
      } catch (error) {
        out.failure = { error, step: this.deps.operator.kustomizations()[0]! };
      }
    }
    return out;
  }

  /** record: the spec's inventory becomes what the apply returned; returns what its last inventory held besides. */
  private record(id: string, applied: InventoryEntry[], inventory: Inventory): InventoryEntry[] {
    const before = inventory[id] ?? [];
    inventory[id] = applied;
    this.deps.onChildren?.(applied);
    return stale(before, applied);
  }

  /** Whether a child is in the inventory of a step the operator has: applied by it, so not to be pruned. */
  private held(entry: InventoryEntry, inventory: Inventory): boolean {
    return this.deps.operator.steps.some((s) => (inventory[s.id] ?? []).some((e) => sameChild(e, entry)));
  }

  /**
   * prune: children that a spec's render no longer holds, and no other spec holds now, are deleted. One that fails
   * to go stays in its spec's inventory, and the step fails (PruneFailed).
   */
  private async prune(obj: KubeObject, stalePerSpec: Array<{ id: string; entries: InventoryEntry[] }>, inventory: Inventory, view: ChildView, log: Logger): Promise<void> {
    const failed: string[] = [];
    for (const { id, entries } of stalePerSpec) {
      const { left, deleted } = await this.deleteEach(obj, entries.filter((e) => !this.held(e, inventory)), log);
      deleted.forEach((e) => view.gone(e));
      if (left.length) inventory[id] = [...(inventory[id] ?? []), ...left.map((l) => l.entry)];
      failed.push(...left.map((l) => `${describeEntry(l.entry)} (${l.error})`));
    }
    if (failed.length) throw new StepError(`could not prune ${failed.join(', ')}`, 'PruneFailed');
  }

  /** Inventory lists of steps the operator no longer has (removed or renamed). */
  orphans(inventory: Inventory): string[] {
    const registered = new Set(this.deps.operator.steps.map((s) => s.id));
    return Object.keys(inventory).filter((id) => !registered.has(id));
  }

  /**
   * What a handler applies itself (`ctx.kustomize.apply`) becomes its inventory: the first apply of an attempt
   * replaces the list, later ones add to it. Those children are watched and must be healthy for Ready, and they are
   * deleted with the object; what an earlier attempt applied is left to the garbage collector (ownerReferences).
   */
  private recorder(step: Step, inventory: Inventory, view: ChildView | undefined): ((objects: KubeObject[]) => void) | undefined {
    if (step.kind !== 'handler') return undefined;
    let first = true;
    return (objects) => {
      const entries = objects.map(entryOf);
      const kept = first ? [] : (inventory[step.id] ?? []).filter((e) => !entries.some((n) => sameChild(n, e)));
      inventory[step.id] = [...kept, ...entries];
      first = false;
      objects.forEach((o) => view?.applied(o));
      this.deps.onChildren?.(entries);
    };
  }

  /**
   * The delete steps, in reverse order of registration: a kustomize spec deletes what its inventory holds, only
   * this object's children, and waits until they are gone; inventories of steps the operator no longer has first,
   * what handlers applied themselves last. (`kubectl delete -k` would delete every rendered object, someone else's
   * included: it ignores a label selector.)
   */
  async remove(obj: KubeObject, retry: number, inventory: Inventory, log: Logger): Promise<StepsOutcome> {
    const out: StepsOutcome = { results: {}, events: [] };
    try {
      for (const id of this.orphans(inventory)) await this.deleteInventory(obj, id, inventory, log, 'DeleteFailed', true);
    } catch (error) {
      out.failure = { error, step: this.deps.operator.kustomizations()[0] ?? this.deps.operator.steps[0]! };
      return out;
    }
    for (const step of [...this.deps.operator.steps].reverse()) {
      if (step.kind === 'handler' && (step.cause !== 'delete' || !passesFilters(step.options, obj))) continue;
      try {
        if (this.deps.signal.aborted) throw new Cancelled('cancelled before the step started');
        let result: HandlerResult;
        if (step.kind === 'handler') ({ result } = await this.attempt(step, obj, 'delete', retry, {}, log, this.recorder(step, inventory, undefined)));
        else result = { message: (await this.deleteInventory(obj, step.id, inventory, log, 'DeleteFailed', true)).map((d) => `${d} deleted`).join('\n') };
        out.events.push({ type: 'Normal', reason: 'Deleted', message: `${step.id} succeeded${messageOf(result) ? `: ${messageOf(result)}` : ''}` });
      } catch (error) {
        out.failure = { error, step };
        return out;
      }
    }
    for (const step of this.deps.operator.steps.filter((s) => s.kind === 'handler' && s.id in inventory)) {
      try {
        await this.deleteInventory(obj, step.id, inventory, log, 'DeleteFailed', true);
      } catch (error) {
        out.failure = { error, step };
        return out;
      }
    }
    return out;
  }

  /** Whether a step runs for this cause; with what it gets beyond the common context. */
  private applies(step: Step, cause: Cause, obj: KubeObject, old: Essence | undefined, now: Essence): Partial<HandlerContext<any>> | undefined {
    if (step.kind === 'kustomize') return cause === 'create' || cause === 'update' || cause === 'repair' ? {} : undefined;
    if (!passesFilters(step.options, obj)) return undefined;
    if (step.cause === 'field') return cause === 'create' || cause === 'update' ? fieldChange(step.field ?? [], old, now) : undefined;
    if (step.cause !== cause) return undefined;
    return cause === 'update' ? { old, new: now, diff: fieldChange([], old, now)?.diff ?? [] } : {};
  }

  /** One attempt of a step, within its time limit; it has ended when this returns. */
  private async attempt(
    step: Step,
    obj: KubeObject,
    cause: Cause,
    retry: number,
    extra: Partial<HandlerContext<any>>,
    log: Logger,
    record?: (objects: KubeObject[]) => void,
    ready?: () => Promise<unknown>,
  ): Promise<{ result: HandlerResult; applied?: KubeObject[] }> {
    const started = performance.now();
    const options = step.kind === 'handler' ? step.options : {};
    log.debug({ handler: step.id, cause }, 'handler started');
    let ok = false;
    let attempted = true;
    try {
      const run = await runAttempt(
        async (signal): Promise<{ result: HandlerResult; applied?: KubeObject[] }> => {
          const ctx = handlerContext({ ...this.deps.context, logger: log, record }, obj, cause, retry, signal, extra);
          if (step.kind === 'handler') return { result: await step.fn(ctx) };
          return applyKustomization(this.deps.context, step, ctx, ready);
        },
        {
          id: step.id,
          timeoutMs: options.timeoutMs,
          parent: this.deps.signal,
          onLingering: (ms) => log.warn({ handler: step.id, ms }, 'a timed-out handler ignores its abort signal; the next attempt waits for it'),
        },
      );
      ok = true;
      return run;
    } catch (err) {
      attempted = !(err instanceof NotReady);
      throw err;
    } finally {
      log.debug({ handler: step.id, cause }, 'handler finished');
      if (attempted) this.deps.onStep?.({ operator: this.deps.operator.name, handler: step.id, cause, ok, durationMs: performance.now() - started });
    }
  }

  /**
   * Deletes what one inventory list holds; what fails to go stays in it (`reason`: PruneFailed, DeleteFailed).
   * With `untilGone`, a child still there after its delete (a finalizer of its own) stays too, and the step waits
   * for it (Deleting): its watch, or the backoff, brings the reconcile back. Returns what it deleted.
   */
  private async deleteInventory(obj: KubeObject, id: string, inventory: Inventory, log: Logger, reason: string, untilGone = false): Promise<string[]> {
    const { left, deleted } = await this.deleteEach(obj, inventory[id] ?? [], log);
    const lingering: InventoryEntry[] = [];
    if (untilGone) for (const e of deleted) if (await loadChild(this.deps.children, e)) lingering.push(e);
    const keep = [...left.map((l) => l.entry), ...lingering];
    if (keep.length === 0) delete inventory[id];
    else inventory[id] = keep;
    if (left.length) throw new StepError(`could not delete ${left.map((l) => `${describeEntry(l.entry)} (${l.error})`).join(', ')}`, reason);
    if (lingering.length) throw new TemporaryError(`waiting for ${lingering.map(describeEntry).join(', ')} to go`, undefined, 'Deleting');
    return deleted.map(describeEntry);
  }

  /** Deletes children that are this object's; returns those that failed to go, and those deleted. A foreign one is left alone. */
  private async deleteEach(obj: KubeObject, entries: InventoryEntry[], log: Logger): Promise<{ left: Array<{ entry: InventoryEntry; error: string }>; deleted: InventoryEntry[] }> {
    const left: Array<{ entry: InventoryEntry; error: string }> = [];
    const deleted: InventoryEntry[] = [];
    for (const entry of entries) {
      try {
        const outcome = await deleteChild(this.deps.children, entry, ownerOf(obj));
        if (outcome === 'foreign') log.warn({ child: describeEntry(entry) }, 'not deleted: it does not carry this object\'s owner label and reference');
        if (outcome === 'deleted') deleted.push(entry);
      } catch (err) {
        left.push({ entry, error: (err as Error).message });
      }
    }
    return { left, deleted };
  }
}
