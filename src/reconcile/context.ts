// Why: what a handler sees (HandlerContext), built in one place for every step, timer and delete handler.
import type { Logger } from 'pino';
import type { Api, KubeObject } from '../kube/api.ts';
import { adopt } from '../operator/adopt.ts';
import type { Cause, HandlerContext } from '../operator/operator.ts';
import { guardedApply, guardedDelete, ownerOf, type KustomizeDeps } from './kustomization.ts';

export { ownerOf };

export interface ContextDeps extends KustomizeDeps {
  api: Api;
  logger: Logger;
  /** Told of what a handler's `ctx.kustomize.apply` applied (retained objects aside), for its inventory. */
  record?: ((objects: KubeObject[]) => void) | undefined;
}

export function handlerContext(
  deps: ContextDeps,
  obj: KubeObject,
  cause: Cause,
  retry: number,
  signal: AbortSignal,
  extra: Partial<HandlerContext<any>> = {},
): HandlerContext<any> {
  const namespace = obj.metadata.namespace ?? 'default';
  return {
    cause,
    body: obj as HandlerContext<any>['body'],
    spec: (obj.spec ?? {}) as Record<string, unknown>,
    name: obj.metadata.name,
    namespace,
    retry,
    logger: deps.logger,
    kubectl: deps.kubectl,
    api: deps.api,
    adopt: (child) => adopt(obj, child),
    kustomize: {
      apply: async (spec) => {
        // Alone, not batched: a handler's attempt may time out, and its kubectl must then go with it.
        const output = await guardedApply({ ...deps, batcher: undefined }, spec, obj, signal);
        if (!spec.retain) deps.record?.(output.objects);
        return output;
      },
      delete: (spec) => guardedDelete(deps, spec, obj, signal),
    },
    signal,
    ...extra,
  };
}
