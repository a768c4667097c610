// Why: the public API a workshop participant imports to write an operator of their own (see README).
export { Operator } from './runtime/operator.ts';
export type { Cause, Handler, HandlerContext, HandlerOptions, HandlerResult, KustomizeHooks, TimerOptions, Validator } from './runtime/operator.ts';
export { TemporaryError, PermanentError, KubectlError, BuildError } from './runtime/errors.ts';
export { adopt } from './runtime/adopt.ts';
export type { KustomizeSpec, PatchTarget } from './kustomize/workdir.ts';
export { createWorkdir } from './kustomize/workdir.ts';
export { ownerSelector, ownerLabels } from './kustomize/labels.ts';
export type { KubeObject, ObjectMeta, ResourceRef, Api } from './kube/api.ts';
export { KubeApi, ApiError, resourcePath } from './kube/api.ts';
export type { KubectlResult, KubectlRunner } from './kubectl/runner.ts';
export { startOperators } from './start.ts';
export type { StartOptions, RunningOperators } from './start.ts';
export type { DiffEntry, Essence } from './runtime/essence.ts';
