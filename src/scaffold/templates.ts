// Why: the YAML and JSON files of a new operator project, as objects (serialized with `yaml`, never templated text).
import type { ProjectNames } from './names.ts';
import { LEADER_ELECTION_RULES, operatorRules } from './rbac.ts';

/** The versions a new project pins: those kustomate itself is built and tested with. */
export interface ToolVersions {
  node: string;
  typescript: string;
  typesNode: string;
  execa: string;
  /** The kustomate image the Dockerfile takes kubectl from: what `npm run image` builds from this kustomate. */
  kustomateImage: string;
}

/** The base's objects: a Deployment of nginx whose environment reads the ConfigMap's message. */
export function baseObjects(): object[] {
  const labels = { 'app.kubernetes.io/name': 'web' };
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'content' }, data: { message: 'hello' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'nginx',
                image: 'nginx:1.27',
                ports: [{ containerPort: 80 }],
                env: [{ name: 'MESSAGE', valueFrom: { configMapKeyRef: { name: 'content', key: 'message' } } }],
              },
            ],
          },
        },
      },
    },
  ];
}

/** File names of the base's objects, in the order of baseObjects(). */
export const BASE_FILES = ['configmap.yaml', 'deployment.yaml'];

export function baseKustomization(): object {
  return { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: BASE_FILES };
}

/** The CRD: a real schema (types, limits, descriptions), the status subresource, and printer columns. */
export function crd(n: ProjectNames): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: n.crdName },
    spec: {
      group: n.group,
      scope: 'Namespaced',
      names: { kind: n.kind, plural: n.plural, singular: n.singular, listKind: `${n.kind}List` },
      versions: [
        {
          name: n.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Message', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].message' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `A ${n.kind}: the ${n.name} operator applies kustomize/${n.name}/ for it (a Deployment and a ConfigMap), with its replicas and message.`,
              required: ['spec'],
              'x-kubernetes-validations': [
                { rule: 'self.metadata.name.size() <= 63', message: 'metadata.name must be at most 63 characters (it becomes the app.kubernetes.io/instance label)' },
              ],
              properties: {
                spec: {
                  type: 'object',
                  description: `What the ${n.kind} asks for.`,
                  required: ['replicas'],
                  properties: {
                    replicas: { type: 'integer', minimum: 0, maximum: 100, description: 'Replicas of the Deployment, 0 to 100.' },
                    message: { type: 'string', maxLength: 1000, description: 'What the ConfigMap holds, and the pods see as MESSAGE; default hello.' },
                  },
                },
                status: {
                  type: 'object',
                  description: 'Written by kustomate: conditions (Ready, Reconciling, Stalled), kubectl\'s output, the inventory of children.',
                  'x-kubernetes-preserve-unknown-fields': true,
                },
              },
            },
          },
        },
      ],
    },
  };
}

/** The example custom resource: in examples/ (alm-examples of the bundle, the e2e test) and as the golden input. */
export function exampleResource(n: ProjectNames): object {
  return { apiVersion: `${n.group}/${n.version}`, kind: n.kind, metadata: { name: 'example' }, spec: { replicas: 1, message: `hello from ${n.kind} example` } };
}

/** The install base (deploy/): namespace, ServiceAccount, least-privilege RBAC, and the operator's Deployment. */
export function installKustomization(n: ProjectNames): object {
  return { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', namespace: n.namespace, resources: ['namespace.yaml', 'rbac.yaml', 'deployment.yaml'] };
}

export function installNamespace(n: ProjectNames): object {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.namespace } };
}

/** The ServiceAccount, a ClusterRole with the rules the base's kinds need, and a Role for the leader election Lease. */
export function installRbac(n: ProjectNames, children: Array<{ apiVersion: string; kind: string }>): object[] {
  const rbac = 'rbac.authorization.k8s.io';
  const subject = { kind: 'ServiceAccount', name: n.name, namespace: n.namespace };
  const resource = { group: n.group, version: n.version, plural: n.plural, kind: n.kind };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: n.name } },
    { apiVersion: `${rbac}/v1`, kind: 'ClusterRole', metadata: { name: n.name }, rules: operatorRules(resource, children) },
    { apiVersion: `${rbac}/v1`, kind: 'ClusterRoleBinding', metadata: { name: n.name }, roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: n.name }, subjects: [subject] },
    { apiVersion: `${rbac}/v1`, kind: 'Role', metadata: { name: `${n.name}-leader-election` }, rules: LEADER_ELECTION_RULES },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'RoleBinding',
      metadata: { name: `${n.name}-leader-election` },
      roleRef: { apiGroup: rbac, kind: 'Role', name: `${n.name}-leader-election` },
      subjects: [{ kind: 'ServiceAccount', name: n.name }],
    },
  ];
}

/** The operator's Deployment: kustomate runs src/operator.ts with leader election, health probes, JSON logs. */
export function installDeployment(n: ProjectNames): object {
  const labels = { 'app.kubernetes.io/name': n.name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: n.name, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: n.name,
          terminationGracePeriodSeconds: 45,
          securityContext: { runAsNonRoot: true },
          containers: [
            {
              name: 'operator',
              image: `${n.name}:latest`,
              args: ['run', '--all-namespaces', '--leader-election', '--health-host=0.0.0.0', '--health-port=8080', '--log-format=json', './src/operator.ts'],
              ports: [{ name: 'health', containerPort: 8080 }],
              livenessProbe: { httpGet: { path: '/healthz', port: 'health' } },
              readinessProbe: { httpGet: { path: '/readyz', port: 'health' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}

export function packageJson(n: ProjectNames, kustomate: string, tools: ToolVersions): object {
  return {
    name: n.name,
    version: '0.1.0',
    private: true,
    description: `The ${n.name} operator: a ${n.kind} (${n.group}/${n.version}) becomes kustomize/${n.name}/, applied with kubectl apply -k by kustomate.`,
    type: 'module',
    engines: { node: '>=24' },
    scripts: {
      start: 'kustomate run ./src/operator.ts',
      typecheck: 'tsc -p tsconfig.json',
      test: 'tsc -p tsconfig.json && node --test --test-concurrency=1 test/*.test.ts',
      'test:unit': 'node --test test/operator.test.ts test/golden.test.ts',
      golden: 'kustomate golden test/golden --operator ./src/operator.ts',
      render: 'kustomate render --operator ./src/operator.ts',
      diff: 'kustomate diff --operator ./src/operator.ts',
      bundle: 'kustomate bundle --operator ./src/operator.ts',
    },
    dependencies: { kustomate },
    devDependencies: { '@types/node': tools.typesNode, execa: tools.execa, node: tools.node, typescript: tools.typescript },
    // The node package installs Node.js 24 (its preinstall script); kustomate comes built, its prepare is not for here.
    allowScripts: { node: true, kustomate: false },
  };
}

export function tsconfig(): object {
  return {
    compilerOptions: {
      target: 'es2024',
      lib: ['es2024'],
      module: 'nodenext',
      moduleResolution: 'nodenext',
      types: ['node'],
      strict: true,
      noUncheckedIndexedAccess: true,
      erasableSyntaxOnly: true,
      verbatimModuleSyntax: true,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      noEmit: true,
    },
    include: ['src', 'test'],
  };
}
