// Why: an install base's RBAC as OLM wants it (permissions per ServiceAccount), and as plain tuples to compare two of them.
import type { KubeObject } from '../kube/api.ts';

export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

/** A CSV's permissions or clusterPermissions entry. */
export interface Permission {
  serviceAccountName: string;
  rules: Rule[];
}

type Binding = KubeObject & { roleRef: { kind: string; name: string }; subjects?: Array<{ kind: string; name: string; namespace?: string }> };
type Role = KubeObject & { rules?: Rule[] };

const RBAC = 'rbac.authorization.k8s.io';
const isRbac = (o: KubeObject, kind: string) => o.apiVersion.startsWith(`${RBAC}/`) && o.kind === kind;

/** The ServiceAccounts the install base's Deployments run as. */
export function deploymentAccounts(objects: KubeObject[]): Set<string> {
  return new Set(
    objects
      .filter((o) => o.kind === 'Deployment')
      .map((o) => ((o as any).spec?.template?.spec?.serviceAccountName as string | undefined) ?? 'default'),
  );
}

export interface SplitRbac {
  /** Rules bound in the operator's namespace (RoleBindings), per ServiceAccount. */
  permissions: Permission[];
  /** Rules bound cluster-wide (ClusterRoleBindings), per ServiceAccount. */
  clusterPermissions: Permission[];
  /** The roles and bindings these came from: OLM creates their equivalents itself. */
  consumed: Set<KubeObject>;
}

/**
 * What the install base grants the ServiceAccounts its Deployments run as: a ClusterRoleBinding's role becomes
 * clusterPermissions, a RoleBinding's (of a Role or a ClusterRole) permissions, merged per ServiceAccount.
 * Roles bound to nobody else, and bindings of other subjects, are left for the bundle's manifests.
 */
export function splitRbac(objects: KubeObject[]): SplitRbac {
  const accounts = deploymentAccounts(objects);
  const roles = new Map<string, Role>();
  for (const o of objects) if (isRbac(o, 'Role') || isRbac(o, 'ClusterRole')) roles.set(`${o.kind}/${o.metadata.name}`, o as Role);
  const consumed = new Set<KubeObject>();
  const merge = (into: Map<string, Rule[]>, account: string, rules: Rule[]) => into.set(account, [...(into.get(account) ?? []), ...rules]);
  const cluster = new Map<string, Rule[]>();
  const namespaced = new Map<string, Rule[]>();
  for (const o of objects) {
    const clusterWide = isRbac(o, 'ClusterRoleBinding');
    if (!clusterWide && !isRbac(o, 'RoleBinding')) continue;
    const binding = o as Binding;
    const subjects = binding.subjects ?? [];
    // Only bindings whose every subject is an operator ServiceAccount become CSV permissions.
    if (subjects.length === 0 || !subjects.every((s) => s.kind === 'ServiceAccount' && accounts.has(s.name))) continue;
    const role = roles.get(`${binding.roleRef.kind}/${binding.roleRef.name}`);
    if (!role) throw new Error(`${o.kind} ${o.metadata.name} binds ${binding.roleRef.kind} ${binding.roleRef.name}, which the install base does not hold`);
    for (const s of subjects) merge(clusterWide ? cluster : namespaced, s.name, role.rules ?? []);
    consumed.add(o).add(role);
  }
  // A role that something else binds too stays a manifest of its own.
  for (const o of objects) {
    if ((isRbac(o, 'ClusterRoleBinding') || isRbac(o, 'RoleBinding')) && !consumed.has(o)) {
      const ref = (o as Binding).roleRef;
      const role = roles.get(`${ref.kind}/${ref.name}`);
      if (role) consumed.delete(role);
    }
  }
  const list = (m: Map<string, Rule[]>) => [...m].map(([serviceAccountName, rules]) => ({ serviceAccountName, rules }));
  return { permissions: list(namespaced), clusterPermissions: list(cluster), consumed };
}

/**
 * A rule set as sorted `group|resource|name|verb` (and `url|verb`) tuples: two rule sets grant the same when their
 * tuples are equal, however their rules are split or ordered.
 */
export function ruleTuples(rules: Rule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) {
    for (const verb of r.verbs) {
      for (const url of r.nonResourceURLs ?? []) out.add(`url|${url}|${verb}`);
      for (const group of r.apiGroups ?? []) {
        for (const resource of r.resources ?? []) {
          for (const name of r.resourceNames?.length ? r.resourceNames : ['*']) out.add(`${group}|${resource}|${name}|${verb}`);
        }
      }
    }
  }
  return [...out].sort();
}

/** Per ServiceAccount, the tuples of all its entries. */
export function permissionTuples(entries: Permission[] | undefined): Map<string, string[]> {
  const by = new Map<string, Rule[]>();
  for (const e of entries ?? []) by.set(e.serviceAccountName, [...(by.get(e.serviceAccountName) ?? []), ...(e.rules ?? [])]);
  return new Map([...by].map(([sa, rules]) => [sa, ruleTuples(rules)]));
}
