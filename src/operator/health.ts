// Why: Ready means the children are healthy, judged as kstatus judges them
// (https://github.com/kubernetes-sigs/cli-utils/blob/master/pkg/kstatus/README.md): a Deployment available and
// updated, a Pod Ready, a Job Complete, a PVC Bound; a Service, or anything else, once it exists.
import type { KubeObject } from '../kube/api.ts';
import type { Health } from './operator.ts';

/** An operator's own rule for a kind; undefined falls back to the built-in rules. */
export type HealthCheck = (obj: KubeObject) => Health | undefined;

interface Cond {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

const conditions = (obj: KubeObject) => ((obj.status?.conditions as Cond[] | undefined) ?? []);
const condition = (obj: KubeObject, type: string) => conditions(obj).find((c) => c.type === type);
const said = (c: Cond | undefined) => (c?.message ? `: ${c.message}` : c?.reason ? `: ${c.reason}` : '');
const num = (v: unknown, fallback = 0) => (typeof v === 'number' ? v : fallback);

function deployment(obj: KubeObject): Health {
  const spec = (obj.spec ?? {}) as { replicas?: number };
  const st = (obj.status ?? {}) as Record<string, unknown>;
  const want = num(spec.replicas, 1);
  // Nothing in status describes this generation until the controller has observed it.
  if (num(st.observedGeneration) < num(obj.metadata.generation, 1)) return { healthy: false, message: 'rollout not observed yet' };
  const progressing = condition(obj, 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return { healthy: false, failed: true, message: `rollout stuck${said(progressing)}` };
  }
  const updated = num(st.updatedReplicas);
  const available = num(st.availableReplicas);
  const ready = num(st.readyReplicas);
  if (updated < want) return { healthy: false, message: `${updated} of ${want} replicas updated${said(progressing)}` };
  if (num(st.replicas) > updated) return { healthy: false, message: `${num(st.replicas) - updated} old replicas still running` };
  if (available < want) return { healthy: false, message: `${available} of ${want} replicas available${said(condition(obj, 'Available'))}` };
  if (ready < want) return { healthy: false, message: `${ready} of ${want} replicas ready` };
  return { healthy: true, message: `${available} of ${want} replicas available` };
}

function pod(obj: KubeObject): Health {
  const phase = (obj.status as { phase?: string } | undefined)?.phase;
  if (phase === 'Failed') return { healthy: false, failed: true, message: `failed${said(condition(obj, 'Ready'))}` };
  const ready = condition(obj, 'Ready');
  if (ready?.status === 'True' || phase === 'Succeeded') return { healthy: true, message: phase === 'Succeeded' ? 'succeeded' : 'ready' };
  return { healthy: false, message: `${phase ?? 'pending'}, not ready${said(ready ?? condition(obj, 'PodScheduled'))}` };
}

function job(obj: KubeObject): Health {
  if (condition(obj, 'Complete')?.status === 'True') return { healthy: true, message: 'complete' };
  const failed = condition(obj, 'Failed');
  if (failed?.status === 'True') return { healthy: false, failed: true, message: `failed${said(failed)}` };
  return { healthy: false, message: 'running' };
}

function pvc(obj: KubeObject): Health {
  const phase = (obj.status as { phase?: string } | undefined)?.phase;
  return phase === 'Bound' ? { healthy: true, message: 'bound' } : { healthy: false, failed: phase === 'Lost', message: `${phase ?? 'pending'}, not bound` };
}

const BUILT_IN: Record<string, (obj: KubeObject) => Health> = {
  'apps/Deployment': deployment,
  '/Pod': pod,
  'batch/Job': job,
  '/PersistentVolumeClaim': pvc,
};

const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');

/**
 * The health of a child. `custom` rules are keyed by `Kind` or `group/Kind` (`apps/Deployment`); the more precise
 * one wins, and a rule that returns undefined leaves the judgement to the built-in one.
 */
export function healthOf(obj: KubeObject, custom: Record<string, HealthCheck> = {}): Health {
  const key = `${groupOf(obj.apiVersion)}/${obj.kind}`;
  const own = (custom[key] ?? custom[obj.kind])?.(obj);
  if (own) return own;
  return BUILT_IN[key]?.(obj) ?? { healthy: true, message: 'exists' };
}
