// Why: turn --namespace arguments (names, glob patterns, !exclusions) into what to watch and what to accept.

export interface NamespaceScope {
  /** Namespaces to watch one by one; empty means one cluster-wide watch. */
  watch: string[];
  /** Whether an object in this namespace is ours (cluster-wide watches filter with it). */
  accepts(namespace: string | undefined): boolean;
  describe: string;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/**
 * Plain names are watched one by one (so namespaced RBAC suffices). Any pattern (`team-*`, `dev-?`) or exclusion
 * (`!kube-*`) means one cluster-wide watch whose objects are filtered: included by any pattern (or by default when
 * there are only exclusions) and not excluded by any.
 */
export function namespaceScope(args: string[]): NamespaceScope {
  if (args.length === 0) return { watch: [], accepts: () => true, describe: 'all namespaces' };
  const bad = args.filter((a) => !NAME.test(a.replace(/^!/, '').replace(/[*?]/g, 'a')));
  if (bad.length) throw new Error(`not a namespace name or pattern: ${bad.join(', ')}`);
  const plain = args.every((a) => NAME.test(a));
  if (plain) {
    const set = new Set(args);
    return { watch: [...set], accepts: (ns) => ns !== undefined && set.has(ns), describe: [...set].join(', ') };
  }
  const include = args.filter((a) => !a.startsWith('!')).map(globToRegExp);
  const exclude = args.filter((a) => a.startsWith('!')).map((a) => globToRegExp(a.slice(1)));
  return {
    watch: [],
    accepts: (ns) =>
      ns !== undefined && (include.length === 0 || include.some((r) => r.test(ns))) && !exclude.some((r) => r.test(ns)),
    describe: args.join(', '),
  };
}
