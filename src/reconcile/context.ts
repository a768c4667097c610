// Why: what a handler sees (HandlerContext), built in one place for every step, timer and delete handler.
import type { Logger } from 'pino';
import type { Api, KubeObject } from '../kube/api.ts';
import type { KubectlRunner } from '../kubectl/runner.ts';
import { applySpec, deleteSpec } from '../kustomize/commands.ts';
import type { Owner } from '../kustomize/workdir.ts';
import { adopt } from '../operator/adopt.ts';
import type { Cause, HandlerContext } from '../operator/operator.ts';

export interface ContextDeps {
  api: Api;
  kubectl: KubectlRunner;
  basesDir: string;
  keepWorkdirs: boolean;
  logger: Logger;
}

/** The custom resource as the owner of what its work dirs render. */
export function ownerOf(obj: KubeObject): Owner {
  return { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace ?? 'default', uid: obj.metadata.uid };
}

export function handlerContext(
  deps: ContextDeps,
  obj: KubeObject,
  cause: Cause,
  retry: number,
  signal: AbortSignal,
  extra: Partial<HandlerContext<any>> = {},
): HandlerContext<any> {
  const env = { kubectl: deps.kubectl, basesDir: deps.basesDir, keepWorkdirs: deps.keepWorkdirs, signal };
  const owner = ownerOf(obj);
  return {
    cause,
    body: obj as HandlerContext<any>['body'],
    spec: (obj.spec ?? {}) as Record<string, unknown>,
    name: obj.metadata.name,
    namespace: owner.namespace,
    retry,
    logger: deps.logger,
    kubectl: deps.kubectl,
    api: deps.api,
    adopt: (child) => adopt(obj, child),
    kustomize: {
      apply: (spec) => applySpec(env, spec, owner),
      delete: (spec) => deleteSpec(env, spec, owner),
    },
    signal,
    ...extra,
  };
}
