// Why: an Operator Lifecycle Manager bundle (registry+v1) of an operator, built from its CRDs, install base and examples.
import type { KubeObject, ResourceRef } from '../kube/api.ts';
import { splitRbac, type Permission } from './permissions.ts';

export const CSV_API_VERSION = 'operators.coreos.com/v1alpha1';
export const MEDIATYPE = 'registry+v1';
/** The annotation keys of metadata/annotations.yaml, also the labels of bundle.Dockerfile. */
export const ANNOTATIONS = {
  mediatype: 'operators.operatorframework.io.bundle.mediatype.v1',
  manifests: 'operators.operatorframework.io.bundle.manifests.v1',
  metadata: 'operators.operatorframework.io.bundle.metadata.v1',
  package: 'operators.operatorframework.io.bundle.package.v1',
  channels: 'operators.operatorframework.io.bundle.channels.v1',
  defaultChannel: 'operators.operatorframework.io.bundle.channel.default.v1',
} as const;

/** Kinds OLM installs from a bundle's manifests/ besides the CSV and CRDs (operator-framework/api's supported kinds). */
export const SUPPORTED_KINDS = [
  'ClusterServiceVersion',
  'CustomResourceDefinition',
  'Secret',
  'ClusterRole',
  'ClusterRoleBinding',
  'ConfigMap',
  'ServiceAccount',
  'Service',
  'Role',
  'RoleBinding',
  'PrometheusRule',
  'ServiceMonitor',
  'PodDisruptionBudget',
  'PriorityClass',
  'VerticalPodAutoscaler',
  'ConsoleYAMLSample',
  'ConsoleQuickStart',
  'ConsoleCLIDownload',
  'ConsoleLink',
];

export const INSTALL_MODES = ['OwnNamespace', 'SingleNamespace', 'MultiNamespace', 'AllNamespaces'] as const;

/** https://semver.org's regular expression: OLM orders a package's bundles by this version. */
export const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
/** A package or channel name: lower-case letters, digits, '-' and '.', as OLM's catalogs take them. */
export const PACKAGE_NAME = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/;

export interface CrdFile {
  crd: KubeObject & { spec: CrdSpec };
  /** The comment at the top of the file: the description when the schema has none. */
  comment?: string | undefined;
}

interface CrdSpec {
  group: string;
  names: { kind: string; plural: string };
  versions: Array<{ name: string; served: boolean; schema?: { openAPIV3Schema?: Schema } }>;
}

interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
}

export interface BundleInput {
  packageName: string;
  version: string;
  channels: string[];
  defaultChannel: string;
  displayName: string;
  description: string;
  /** The resources the operators own: each needs its CRD in `crds`. */
  owned: ResourceRef[];
  crds: CrdFile[];
  /** What `kubectl kustomize` renders for the install base. */
  install: KubeObject[];
  /** Example custom resources: the CSV's alm-examples. */
  examples: KubeObject[];
  /** The operator's image, in place of the install Deployment's. */
  image?: string | undefined;
  /** Who built it, for the builder annotation: kustomate-v<version>. */
  builder: string;
}

export interface Bundle {
  /** Files by path relative to the bundle folder. */
  manifests: Record<string, object>;
  annotations: Record<string, string>;
  dockerfile: string;
  csv: KubeObject & { spec: Record<string, any> };
}

/** storage_size → Storage Size, tableName → Table Name. */
const title = (s: string) =>
  s
    .replace(/[_.-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/\b\w/g, (c) => c.toUpperCase());

/** One spec descriptor per described field under spec, dotted paths for nested ones. */
function specDescriptors(schema: Schema | undefined, prefix = ''): Array<{ path: string; displayName: string; description: string }> {
  const out: Array<{ path: string; displayName: string; description: string }> = [];
  for (const [key, prop] of Object.entries(schema?.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (prop.description) out.push({ path, displayName: title(path), description: prop.description });
    out.push(...specDescriptors(prop, path));
  }
  return out;
}

/** What the CRD says it is: its schema's description, else the comment at the top of its file. */
export function crdDescription(file: CrdFile, version: string): string {
  const v = file.crd.spec.versions.find((x) => x.name === version);
  return (v?.schema?.openAPIV3Schema?.description ?? file.comment ?? '').trim().replace(/\s+/g, ' ');
}

/** Kubernetes object names allow [a-z0-9.-]; file names take the object's name, group, version and kind. */
const manifestFile = (o: KubeObject) => {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['core', o.apiVersion];
  return `manifests/${o.metadata.name}_${group}_${version}_${o.kind.toLowerCase()}.yaml`;
};

/** Drops the namespace: OLM installs into the OperatorGroup's. */
function portable<T extends KubeObject>(o: T): T {
  const { namespace: _ns, ...metadata } = o.metadata;
  return { ...o, metadata } as T;
}

/**
 * The bundle: the CSV (install strategy from the install base's Deployments, permissions from its RBAC, owned CRDs
 * with descriptions, alm-examples), one file per CRD, the install base's other supported objects, the annotations
 * and the bundle.Dockerfile. Throws for an install base object a bundle cannot hold, and for a missing CRD.
 */
export function buildBundle(input: BundleInput): Bundle {
  const manifests: Record<string, object> = {};
  const owned = input.owned.map((ref) => {
    const file = input.crds.find((c) => c.crd.metadata.name === `${ref.plural}.${ref.group}`);
    if (!file) throw new Error(`no CRD ${ref.plural}.${ref.group} among the CRD files`);
    return { ref, file };
  });
  const ownedEntries = owned.flatMap(({ ref, file }) => {
    manifests[`manifests/${ref.group}_${ref.plural}.yaml`] = portable(file.crd);
    return file.crd.spec.versions
      .filter((v) => v.served)
      .map((v) => ({
        name: file.crd.metadata.name,
        version: v.name,
        kind: file.crd.spec.names.kind,
        displayName: file.crd.spec.names.kind,
        description: crdDescription(file, v.name),
        specDescriptors: specDescriptors(v.schema?.openAPIV3Schema?.properties?.spec),
        statusDescriptors: [
          {
            path: 'conditions',
            displayName: 'Conditions',
            description: 'Ready, Reconciling and Stalled, as kustomate writes them',
            'x-descriptors': ['urn:alm:descriptor:io.kubernetes.conditions'],
          },
        ],
      }));
  });

  const { permissions, clusterPermissions, consumed } = splitRbac(input.install);
  const deployments: Array<{ name: string; label?: Record<string, string>; spec: any }> = [];
  const accountsWithRules = new Set([...permissions, ...clusterPermissions].map((p) => p.serviceAccountName));
  const extraPermissions: Permission[] = [];
  let image: string | undefined;
  for (const o of input.install) {
    if (consumed.has(o)) continue;
    if (o.kind === 'Namespace') continue; // OLM installs into the OperatorGroup's namespace.
    if (o.kind === 'ServiceAccount' && o.apiVersion === 'v1') continue; // OLM creates those its permissions name.
    if (o.kind === 'Deployment') {
      const spec = structuredClone((o as any).spec);
      const containers = spec?.template?.spec?.containers ?? [];
      if (input.image && containers[0]) containers[0].image = input.image;
      image ??= containers[0]?.image;
      deployments.push({ name: o.metadata.name, ...(o.metadata.labels ? { label: o.metadata.labels } : {}), spec });
      const account = spec?.template?.spec?.serviceAccountName ?? 'default';
      // OLM creates a ServiceAccount only when a permissions entry names it.
      if (!accountsWithRules.has(account)) extraPermissions.push({ serviceAccountName: account, rules: [] });
      continue;
    }
    if (!SUPPORTED_KINDS.includes(o.kind) || o.kind === 'CustomResourceDefinition' || o.kind === 'ClusterServiceVersion') {
      throw new Error(`the install base holds a ${o.kind} (${o.metadata.name}), which an OLM bundle cannot install; CRDs go in the CRD folder`);
    }
    manifests[manifestFile(o)] = portable(o);
  }
  if (deployments.length === 0) throw new Error('the install base holds no Deployment: nothing for OLM to run');

  const csv = {
    apiVersion: CSV_API_VERSION,
    kind: 'ClusterServiceVersion',
    metadata: {
      name: `${input.packageName}.v${input.version}`,
      annotations: {
        'alm-examples': JSON.stringify(input.examples.map(portable), null, 2),
        capabilities: 'Basic Install',
        ...(image ? { containerImage: image } : {}),
        description: input.description,
        'operators.operatorframework.io/builder': input.builder,
      },
    },
    spec: {
      displayName: input.displayName,
      description: input.description,
      version: input.version,
      // OLM shows it as the bundle's maturity; the default channel (alpha, stable, ...) says the same.
      maturity: input.defaultChannel,
      provider: { name: input.displayName },
      keywords: ['kustomize', 'kustomate', 'operator'],
      // The operator watches every namespace (run --all-namespaces): OLM must install it cluster-wide.
      installModes: INSTALL_MODES.map((type) => ({ type, supported: type === 'AllNamespaces' })),
      install: {
        strategy: 'deployment',
        spec: {
          deployments,
          ...(permissions.length + extraPermissions.length ? { permissions: [...permissions, ...extraPermissions] } : {}),
          ...(clusterPermissions.length ? { clusterPermissions } : {}),
        },
      },
      customresourcedefinitions: { owned: ownedEntries },
    },
  };
  manifests[`manifests/${input.packageName}.clusterserviceversion.yaml`] = csv;

  const annotations = {
    [ANNOTATIONS.mediatype]: MEDIATYPE,
    [ANNOTATIONS.manifests]: 'manifests/',
    [ANNOTATIONS.metadata]: 'metadata/',
    [ANNOTATIONS.package]: input.packageName,
    [ANNOTATIONS.channels]: input.channels.join(','),
    [ANNOTATIONS.defaultChannel]: input.defaultChannel,
  };
  // Every value is a checked name or path (no spaces, no quotes), so a plain LABEL line holds it.
  const dockerfile = [
    'FROM scratch',
    '',
    ...Object.entries(annotations).map(([k, v]) => `LABEL ${k}=${v}`),
    '',
    'COPY manifests /manifests/',
    'COPY metadata /metadata/',
    '',
  ].join('\n');
  return { manifests, annotations, dockerfile, csv: csv as Bundle['csv'] };
}
