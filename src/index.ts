// Why: the public API a workshop participant imports to write an operator of their own (see README).
export { Operator, isOperator } from './operator/operator.ts';
export type {
  Cause,
  CustomResource,
  DiffEntry,
  Essence,
  Handler,
  HandlerContext,
  HandlerOptions,
  HandlerResult,
  KustomizeHooks,
  OperatorOptions,
  TimerOptions,
  Validator,
} from './operator/operator.ts';
export { TemporaryError, PermanentError, WaitingError, KubectlError, BuildError, HandlerTimeoutError } from './operator/errors.ts';
export { secretDigest } from './operator/digest.ts';
export { healthOf } from './operator/health.ts';
export { adopt } from './operator/adopt.ts';
export type { KustomizeSpec, PatchTarget } from './kustomize/workdir.ts';
export { createWorkdir } from './kustomize/workdir.ts';
export { ownerSelector, ownerLabels } from './kustomize/labels.ts';
export type { KubeObject, ObjectMeta, ResourceRef, Api } from './kube/api.ts';
export { KubeApi, ApiError, resourcePath } from './kube/api.ts';
export type { KubectlResult, KubectlRunner } from './kubectl/runner.ts';
export { startOperators } from './start.ts';
export type { StartOptions, RunningOperators } from './start.ts';
export { checkGolden, goldenCases, renderGolden, lineDiff } from './render/golden.ts';
export type { GoldenCase, GoldenOptions, GoldenResult } from './render/golden.ts';
