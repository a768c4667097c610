// Why: least-privilege RBAC for an operator, derived from its resource and the kinds its base renders.
import type { ResourceRef } from '../kube/api.ts';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** The REST resource (plural) of common kinds; any other kind is its lower-case plural, as kubebuilder guesses it. */
const PLURALS: Record<string, string> = {
  Endpoints: 'endpoints',
  Ingress: 'ingresses',
  NetworkPolicy: 'networkpolicies',
  PodDisruptionBudget: 'poddisruptionbudgets',
  HorizontalPodAutoscaler: 'horizontalpodautoscalers',
};

/** The API group and REST resource of a kind: apps/v1 Deployment → apps, deployments. */
export function restResource(apiVersion: string, kind: string): { group: string; resource: string } {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
  const lower = kind.toLowerCase();
  const resource = PLURALS[kind] ?? (/(s|x|z|ch|sh)$/.test(lower) ? `${lower}es` : /[^aeiou]y$/.test(lower) ? `${lower.slice(0, -1)}ies` : `${lower}s`);
  return { group, resource };
}

/** What kustomate does to a child: the ownership check and health (get), the children's watch (list, watch), server-side apply (create, patch), prune and delete (delete). */
export const CHILD_VERBS = ['get', 'list', 'watch', 'create', 'patch', 'delete'];

/**
 * The ClusterRole rules an operator needs: its custom resources (load, watch, the finalizer, the one status write,
 * and update on finalizers, which setting a blockOwnerDeletion ownerReference needs), every kind its base renders,
 * Events, reading its CRD at start, and whether a namespace is being deleted (drift there is not repaired). Nothing
 * else: no Secrets, no other kinds.
 */
export function operatorRules(resource: ResourceRef, children: Array<{ apiVersion: string; kind: string }>): PolicyRule[] {
  const rules: PolicyRule[] = [
    { apiGroups: [resource.group], resources: [resource.plural], verbs: ['get', 'list', 'watch', 'patch'] },
    { apiGroups: [resource.group], resources: [`${resource.plural}/status`], verbs: ['patch'] },
    { apiGroups: [resource.group], resources: [`${resource.plural}/finalizers`], verbs: ['update'] },
  ];
  const byGroup = new Map<string, Set<string>>();
  for (const child of children) {
    const { group, resource: plural } = restResource(child.apiVersion, child.kind);
    byGroup.set(group, (byGroup.get(group) ?? new Set()).add(plural));
  }
  for (const [group, plurals] of [...byGroup].sort(([a], [b]) => a.localeCompare(b))) {
    rules.push({ apiGroups: [group], resources: [...plurals].sort(), verbs: CHILD_VERBS });
  }
  rules.push({ apiGroups: [''], resources: ['events'], verbs: ['create'] });
  rules.push({ apiGroups: [''], resources: ['namespaces'], verbs: ['get'] });
  rules.push({ apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get'] });
  return rules;
}

/** The Role that leader election needs in the operator's own namespace. */
export const LEADER_ELECTION_RULES: PolicyRule[] = [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }];
