// Why: the names of a new operator project, checked once: everything the templates write is derived from them.
import { InputError } from '../render/render.ts';

export interface ProjectInput {
  name: string;
  group: string;
  kind: string;
  version?: string | undefined;
  plural?: string | undefined;
}

/** Every name a generated project uses. */
export interface ProjectNames {
  /** The operator's name, npm package name, base folder (kustomize/<name>/) and image name. */
  name: string;
  group: string;
  kind: string;
  version: string;
  plural: string;
  singular: string;
  /** The kustomize step's id: status.<id> holds kubectl's output. */
  stepId: string;
  /** The namespace the install kustomization puts the operator in. */
  namespace: string;
  /** <plural>.<group>: the CRD's name and its file's name under crds/. */
  crdName: string;
  /** The TypeScript interface of the spec. */
  specType: string;
}

const NAME = /^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/;
const KIND = /^[A-Z][A-Za-z0-9]{0,62}$/;
const LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
const GROUP = new RegExp(`^${LABEL}(\\.${LABEL})+$`);
const VERSION = /^v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$/;
const PLURAL = /^[a-z]([a-z0-9]{0,61}[a-z0-9])?$/;
/** Status fields kustomate writes itself, and the dependency's own name: an operator cannot be called that. */
const RESERVED_NAMES = ['conditions', 'observedgeneration', 'inventory', 'kustomate'];

/** English plural of a kind, lower case, as kubebuilder guesses it: Policy → policies, Class → classes, Website → websites. */
export function pluralOf(kind: string): string {
  const k = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(k)) return `${k}es`;
  if (/[^aeiou]y$/.test(k)) return `${k.slice(0, -1)}ies`;
  return `${k}s`;
}

/** Checks the input and derives the names; a bad one is an InputError whose message says what a good one looks like. */
export function projectNames(input: ProjectInput): ProjectNames {
  const { name, group, kind } = input;
  const version = input.version ?? 'v1';
  if (!NAME.test(name)) throw new InputError(`NAME "${name}" must be a lower-case DNS label of at most 40 characters (a-z, 0-9, -), such as my-operator`);
  if (RESERVED_NAMES.includes(name)) throw new InputError(`NAME "${name}" is taken by kustomate itself; choose another`);
  if (!KIND.test(kind)) throw new InputError(`--kind "${kind}" must be CamelCase: a capital letter, then letters and digits (at most 63), such as Website`);
  if (group.length > 253 || !GROUP.test(group)) {
    throw new InputError(`--group "${group}" must be a DNS name with at least one dot, in lower case, such as example.com or apps.my-team.io`);
  }
  if (/(^|\.)(k8s\.io|kubernetes\.io)$/.test(group)) throw new InputError(`--group "${group}" is reserved for Kubernetes' own APIs; use a domain of yours`);
  if (!VERSION.test(version)) throw new InputError(`--version "${version}" must be a Kubernetes API version such as v1, v1beta1 or v2alpha1`);
  const plural = input.plural ?? pluralOf(kind);
  if (!PLURAL.test(plural)) throw new InputError(`--plural "${plural}" must be lower-case letters and digits, such as websites`);
  return {
    name,
    group,
    kind,
    version,
    plural,
    singular: kind.toLowerCase(),
    stepId: name.replace(/-/g, '_'),
    namespace: `${name}-system`,
    crdName: `${plural}.${group}`,
    specType: `${kind}Spec`,
  };
}
