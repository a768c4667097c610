// Why: one kustomize spec through the named steps: build (the spec and its work dir), apply, then record, prune
// and health, which look at the children the apply left.
import type { KubeObject } from '../kube/api.ts';
import { applySpec, deleteSpec } from '../kustomize/commands.ts';
import type { KustomizeSpec } from '../kustomize/workdir.ts';
import { PermanentError, isPermanent } from '../operator/errors.ts';
import type { HandlerContext, HandlerResult, RegisteredKustomization } from '../operator/operator.ts';
import { ownerOf, type ContextDeps } from './context.ts';


/** build: the operator's spec for this object. A builder that throws a plain error is a bad object, not a retry. */
export function buildSpec(step: RegisteredKustomization, body: HandlerContext['body']): KustomizeSpec {
  try {
    return step.build(body);
  } catch (err) {
    if (isPermanent(err)) throw err;
    throw new PermanentError(`${step.id}: ${(err as Error).message}`, 'InvalidSpec');
  }
}

/** build → apply for one spec: the result stored at status.<id>, and the objects as applied (for record and prune). */
export async function applyKustomization(deps: ContextDeps, step: RegisteredKustomization, ctx: HandlerContext<any>): Promise<{ result: HandlerResult; applied: KubeObject[] }> {
  const spec = buildSpec(step, ctx.body);
  await step.hooks.beforeApply?.(ctx);
  const output = await applySpec({ kubectl: deps.kubectl, basesDir: deps.basesDir, keepWorkdirs: deps.keepWorkdirs, signal: ctx.signal }, spec, ownerOf(ctx.body));
  const result = step.hooks.result ? await step.hooks.result(ctx, output) : { message: output.stdout };
  return { result, applied: output.objects };
}

/** `kubectl delete -k` on the spec built from `body`. */
export async function deleteKustomization(deps: ContextDeps, step: RegisteredKustomization, ctx: HandlerContext<any>, body: HandlerContext['body']): Promise<HandlerResult> {
  const spec = buildSpec(step, body);
  const output = await deleteSpec({ kubectl: deps.kubectl, basesDir: deps.basesDir, keepWorkdirs: deps.keepWorkdirs, signal: ctx.signal }, spec, ownerOf(ctx.body));
  return { message: output.stdout };
}
