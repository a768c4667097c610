// Why: one kustomize spec through the named steps: build (the spec and its work dir), own (nothing rendered may
// belong to someone else), apply; and deleting what a spec renders, only where it is this object's.
import type { KubeObject } from '../kube/api.ts';
import type { KubectlBatcher } from '../kustomize/batch.ts';
import { applyIn, renderIn, withWorkdir, type ApplyOutput, type KustomizeEnv } from '../kustomize/commands.ts';
import { identityOf, renderedIdentities, type Identity } from '../kustomize/identities.ts';
import type { KubectlRunner } from '../kubectl/runner.ts';
import type { KustomizeSpec, Owner } from '../kustomize/workdir.ts';
import { PermanentError, TemporaryError, isPermanent } from '../operator/errors.ts';
import type { HandlerContext, HandlerResult, RegisteredKustomization } from '../operator/operator.ts';
import { deleteChild, labelledFor, loadChild, ownedBy, type ChildOwner, type ChildrenDeps } from './children.ts';
import { describeEntry } from './inventory.ts';

/** build: the operator's spec for this object. A builder that throws a plain error is a bad object, not a retry. */
export function buildSpec(step: RegisteredKustomization, body: HandlerContext['body']): KustomizeSpec {
  try {
    return step.build(body);
  } catch (err) {
    if (isPermanent(err)) throw err;
    throw new PermanentError(`${step.id}: ${(err as Error).message}`, 'InvalidSpec');
  }
}

/** What applying and deleting a spec needs. */
export interface KustomizeDeps {
  kubectl: KubectlRunner;
  basesDir: string;
  keepWorkdirs: boolean;
  children: ChildrenDeps;
  /** Shares kubectl processes between objects that render and apply at the same time (a burst). */
  batcher?: KubectlBatcher | undefined;
  /**
   * Told of what a work dir renders before it is applied, so the watch of those kinds is usually up by the time the
   * apply creates them, and brings the state the apply left (see ChildStates); when it is not, the child is read.
   */
  onRendered?: ((children: Identity[]) => void) | undefined;
}

/** The custom resource as the owner of what its work dirs render. */
export function ownerOf(obj: KubeObject): Owner {
  return { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace ?? 'default', uid: obj.metadata.uid };
}

export const childOwner = (obj: KubeObject): ChildOwner => ({ apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, uid: obj.metadata.uid ?? '' });

/** How long an object that would touch someone else's waits before it looks again (the other may go away). */
export const NOT_OWNED_RETRY_MS = 5 * 60_000;

/**
 * own: every rendered object that already exists must be this owner's (owner label and reference; the label alone
 * for retained objects, which a namesake takes over); one that is someone else's stops the apply before it touches
 * anything (NotOwned), stays untouched, and is looked at again only every few minutes: no busy loop of renders.
 */
async function ensureOwned(children: ChildrenDeps, rendered: Identity[], owner: ChildOwner, retain: boolean): Promise<void> {
  const foreign: string[] = [];
  for (const id of rendered) {
    const live = await loadChild(children, id);
    if (live && !(retain ? labelledFor(live, owner) : ownedBy(live, owner))) foreign.push(describeEntry(id));
  }
  if (foreign.length) {
    const one = foreign.length === 1;
    throw new TemporaryError(`${foreign.join(', ')} already exist${one ? 's' : ''} and ${one ? 'is' : 'are'} not this ${owner.kind}'s; left untouched`, NOT_OWNED_RETRY_MS, 'NotOwned');
  }
}

function envOf(deps: KustomizeDeps, signal: AbortSignal): KustomizeEnv {
  return { kubectl: deps.kubectl, basesDir: deps.basesDir, keepWorkdirs: deps.keepWorkdirs, signal };
}

/**
 * build → own → apply, on one work dir: what is applied is exactly what was checked. The objects it renders come
 * from its shape when it has one (no kubectl run), else from a render of the work dir. `before` runs between own
 * and apply, so nothing at all happens for an object that would touch someone else's.
 */
export function guardedApply(deps: KustomizeDeps, spec: KustomizeSpec, body: KubeObject, signal: AbortSignal, before?: () => Promise<void>): Promise<ApplyOutput> {
  const env = envOf(deps, signal);
  const uid = body.metadata.uid;
  const batcher = uid ? deps.batcher : undefined;
  const owner = ownerOf(body);
  return withWorkdir(env, spec, owner, async (dir) => {
    const shaped = await renderedIdentities(env, spec, owner, dir);
    const rendered = shaped ?? (batcher ? await batcher.render(dir, uid!) : await renderIn(env, dir)).map(identityOf);
    deps.onRendered?.(rendered);
    await ensureOwned({ ...deps.children, signal }, rendered, childOwner(body), spec.retain === true);
    await before?.();
    try {
      return await (batcher ? batcher.apply(dir, uid!) : applyIn(env, dir));
    } catch (err) {
      // Not rendered before: a work dir that does not build (a patch without a target) is a build failure, not an
      // apply one, as it would have been had it been rendered first.
      if (shaped && !signal.aborted) await renderIn(env, dir);
      throw err;
    }
  }, 'overlap');
}

/** Deletes what the spec renders, only objects that are this owner's; returns what was deleted. */
export async function guardedDelete(deps: KustomizeDeps, spec: KustomizeSpec, body: KubeObject, signal: AbortSignal): Promise<string[]> {
  const env = envOf(deps, signal);
  const rendered = await withWorkdir(env, spec, ownerOf(body), (dir) => renderIn(env, dir));
  const deleted: string[] = [];
  for (const id of rendered.map(identityOf)) {
    if ((await deleteChild({ ...deps.children, signal }, id, childOwner(body))) === 'deleted') deleted.push(describeEntry(id));
  }
  return deleted;
}

/**
 * build → own → apply for one spec: the result stored at status.<id>, and the objects as applied (for record and
 * prune). `ready`, when given, is awaited after build and own, before the beforeApply hook and the apply.
 */
export async function applyKustomization(
  deps: KustomizeDeps,
  step: RegisteredKustomization,
  ctx: HandlerContext<any>,
  ready?: () => Promise<unknown>,
): Promise<{ result: HandlerResult; applied: KubeObject[] }> {
  const spec = buildSpec(step, ctx.body);
  const hook = step.hooks.beforeApply;
  const before =
    ready || hook
      ? async () => {
          await ready?.();
          await hook?.(ctx);
        }
      : undefined;
  const output = await guardedApply(deps, spec, ctx.body, ctx.signal, before);
  const result = step.hooks.result ? await step.hooks.result(ctx, output) : { message: output.stdout };
  return { result, applied: output.objects };
}
