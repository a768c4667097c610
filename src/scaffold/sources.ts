// Why: the text files of a new operator project (TypeScript, Dockerfile, README); the project's own tsc checks the TypeScript.
// Every name put into them was checked by projectNames: letters, digits, '-' and '.' only.
import type { ProjectNames } from './names.ts';

/** src/operator.ts: the typed operator, its validation, and its kustomize spec. */
export function operatorSource(n: ProjectNames): string {
  return `// The ${n.name} operator: each ${n.kind} (${n.group}/${n.version}) becomes a copy of kustomize/${n.name}/ with two patches,
// applied with kubectl apply -k by kustomate. Run it with \`npm start\`; see README.md.
import { fileURLToPath } from 'node:url';
import { Operator } from 'kustomate';

/** A ${n.kind}'s spec, as crds/${n.crdName}.yaml describes it. */
export interface ${n.specType} {
  /** Replicas of the Deployment, 0 to 100. */
  replicas: number;
  /** What the ConfigMap holds (the pods see it as MESSAGE); default hello. */
  message?: string;
}

/** The problems of a spec, checked before anything is applied (the CRD checks them too, but an older CRD may be installed). */
export function problems(spec: Partial<${n.specType}> | undefined): string[] {
  const found: string[] = [];
  const replicas = spec?.replicas;
  if (!Number.isInteger(replicas) || (replicas as number) < 0 || (replicas as number) > 100) found.push(\`spec.replicas must be a whole number from 0 to 100, got \${JSON.stringify(replicas)}\`);
  if (spec?.message !== undefined && (typeof spec.message !== 'string' || spec.message.length > 1000)) found.push('spec.message must be text of at most 1000 characters');
  return found;
}

export const operator = new Operator<${n.specType}>({
  name: '${n.name}',
  resource: { group: '${n.group}', version: '${n.version}', plural: '${n.plural}', kind: '${n.kind}' },
  // The bases of this operator: kustomize/ beside src/.
  basesDir: fileURLToPath(new URL('../kustomize/', import.meta.url)),
})
  // A bad object gets Ready=False, reason InvalidSpec, and is not retried until it changes.
  .validate(({ spec }) => problems(spec))
  // Create, update and repair: copy kustomize/${n.name}/, add these patches, kubectl apply -k; delete: its children go.
  // kubectl's output lands in status.${n.stepId}.message.
  .kustomize('${n.stepId}', ({ spec }) => ({
    base: '${n.name}',
    patches: [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: spec.replicas } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'content' }, data: { message: spec.message ?? 'hello' } },
    ],
  }));
`;
}

/** test/operator.test.ts: unit tests of the validation and the spec, no cluster. */
export function unitTestSource(n: ProjectNames): string {
  return `// Unit tests, no cluster: what the operator refuses, and the kustomize spec it builds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { operator, problems, type ${n.specType} } from '../src/operator.ts';

const object = (spec: unknown) => ({ apiVersion: '${n.group}/${n.version}', kind: '${n.kind}', metadata: { name: 'unit', namespace: 'default' }, spec });

test('a spec without whole replicas from 0 to 100 is refused, naming the field', () => {
  for (const replicas of [-1, 101, 1.5, '2', undefined] as unknown[]) {
    assert.match(problems({ replicas } as Partial<${n.specType}>).join(), /spec\\.replicas must be a whole number from 0 to 100/, String(replicas));
  }
  assert.deepEqual(problems({ replicas: 0 }), []);
  assert.deepEqual(operator.problems(object({ replicas: 3, message: 'hi' })), []);
});

test('the replicas patch the Deployment and the message the ConfigMap, hello by default', () => {
  const [rendered] = operator.render(object({ replicas: 3 }));
  assert.equal(rendered?.spec.base, '${n.name}');
  assert.deepEqual(rendered?.spec.patches, [
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 3 } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'content' }, data: { message: 'hello' } },
  ]);
});
`;
}

/** test/golden.test.ts: what each test/golden/NAME.in.yaml renders must equal NAME.out.yaml. */
export function goldenTestSource(): string {
  return `// Golden render test: what the operator renders for each test/golden/NAME.in.yaml must equal NAME.out.yaml
// (kubectl kustomize's output, no cluster). After an intended change, rewrite them: npm run golden -- --update
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkGolden, lineDiff } from 'kustomate';
import { operator } from '../src/operator.ts';

test('every golden input renders exactly its .out.yaml', async () => {
  const results = await checkGolden(fileURLToPath(new URL('./golden/', import.meta.url)), { operators: [operator] });
  assert.ok(results.length > 0, 'test/golden/ holds no NAME.in.yaml');
  for (const r of results) {
    assert.equal(r.status, 'same', \`\${r.output} is \${r.status}:\\n\${lineDiff(r.expected ?? '', r.actual)}\\nif intended: npm run golden -- --update\`);
  }
});
`;
}

/** test/e2e.test.ts: the operator on a real cluster. */
export function e2eTestSource(n: ProjectNames): string {
  return `// End-to-end, on the cluster KUBECONFIG (else ~/.kube/config) names, with the kubectl KUSTOMATE_KUBECTL names
// (else kubectl on PATH): the example ${n.kind} becomes Ready, follows a change, and takes its children with it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { startOperators, type RunningOperators } from 'kustomate';
import { operator } from '../src/operator.ts';

const KUBECTL = process.env.KUSTOMATE_KUBECTL || 'kubectl';
const namespace = \`e2e-${n.name}-\${randomBytes(3).toString('hex')}\`;
const resource = '${n.crdName}';

const kubectl = (args: string[]) => execa(KUBECTL, args, { timeout: 150_000 });

/** The object as JSON, or undefined when it does not exist. */
async function get(kind: string, name: string): Promise<any> {
  const r = await execa(KUBECTL, ['get', kind, name, '-n', namespace, '-o', 'json', '--ignore-not-found'], { timeout: 60_000 });
  return r.stdout ? JSON.parse(r.stdout) : undefined;
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(\`timed out waiting for \${what}\`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const ready = (obj: any) => obj?.status?.conditions?.find((c: any) => c.type === 'Ready');

let running: RunningOperators | undefined;

before(async () => {
  await kubectl(['apply', '--server-side', '-f', 'crds/']);
  await kubectl(['wait', '--for=condition=Established', \`crd/\${resource}\`, '--timeout=60s']);
  await kubectl(['create', 'namespace', namespace]);
  process.env.KUSTOMATE_LOG_LEVEL ??= 'warn';
  running = await startOperators({ operators: [operator], namespaces: [namespace], kubectl: KUBECTL, logFormat: 'json' });
});

after(async () => {
  // While the operator still runs: it removes the finalizers of the ${n.plural} in the namespace.
  await execa(KUBECTL, ['delete', 'namespace', namespace, '--ignore-not-found', '--timeout=120s'], { timeout: 150_000, reject: false });
  await running?.stop();
});

test('the example ${n.kind} becomes Ready=True with its Deployment and ConfigMap', async () => {
  await kubectl(['apply', '-n', namespace, '-f', 'examples/${n.singular}.yaml']);
  const cr = await waitFor('Ready=True', async () => {
    const obj = await get(resource, 'example');
    return ready(obj)?.status === 'True' && obj;
  });
  assert.equal((await get('deployment', 'example-web')).spec.replicas, cr.spec.replicas);
  assert.equal((await get('configmap', 'example-content')).data.message, cr.spec.message);
});

test('a changed spec changes the Deployment and the ConfigMap', async () => {
  await kubectl(['patch', resource, 'example', '-n', namespace, '--type=merge', '-p', JSON.stringify({ spec: { replicas: 2, message: 'changed' } })]);
  await waitFor('2 replicas', async () => (await get('deployment', 'example-web'))?.spec.replicas === 2);
  await waitFor('the new message', async () => (await get('configmap', 'example-content'))?.data.message === 'changed');
  await waitFor('Ready=True again', async () => ready(await get(resource, 'example'))?.status === 'True');
});

test('deleting the ${n.kind} deletes its children', async () => {
  await kubectl(['delete', resource, 'example', '-n', namespace, '--timeout=120s']);
  assert.equal(await get('deployment', 'example-web'), undefined);
  assert.equal(await get('configmap', 'example-content'), undefined);
});
`;
}

/**
 * The image: Node.js 24, the project with its production dependencies, and the kubectl of `kustomateImage` (the
 * name `npm run image` gives kustomate's image; it is only a build argument's default, so any name can be given).
 */
export function dockerfile(n: ProjectNames, vendored: boolean, kustomateImage: string): string {
  return `# The ${n.name} operator's image: Node.js 24, this project, and kubectl; runs as a non-root user.
# kubectl comes from kustomate's image, so the client is the version kustomate is tested with. The default is what
# \`npm run image\` builds in kustomate's checkout; --build-arg KUSTOMATE_IMAGE=... takes another (a pushed one).
ARG KUSTOMATE_IMAGE=${kustomateImage}
FROM \${KUSTOMATE_IMAGE} AS kustomate

FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
${vendored ? 'COPY vendor ./vendor\n' : ''}RUN npm ci --omit=dev --ignore-scripts
COPY src ./src
COPY kustomize ./kustomize
COPY crds ./crds
COPY --from=kustomate /usr/local/bin/kubectl /usr/local/bin/kubectl
# kubectl writes its discovery cache under $HOME; give the non-root user a writable one. A small young generation
# keeps the operator's resident memory low (V8 sizes it at start-up).
ENV HOME=/tmp NODE_ENV=production NODE_OPTIONS=--max-semi-space-size=1
USER 65532:65532
ENTRYPOINT ["node", "node_modules/kustomate/dist/cli/main.js"]
CMD ["run", "--all-namespaces", "--health-host=0.0.0.0", "./src/operator.ts"]
`;
}

export function readme(n: ProjectNames, kustomateImage: string): string {
  return `# ${n.name}

An operator written with kustomate: each \`${n.kind}\`
(\`${n.group}/${n.version}\`) becomes a copy of the kustomize base \`kustomize/${n.name}/\` with two patches
(\`spec.replicas\` into the Deployment, \`spec.message\` into the ConfigMap), applied with \`kubectl apply -k\`.
Deleting the ${n.kind} deletes what was applied for it.

| path | what |
| --- | --- |
| \`src/operator.ts\` | the operator: its spec type, validation and kustomize spec |
| \`crds/${n.crdName}.yaml\` | the CRD, with a schema and printer columns |
| \`kustomize/${n.name}/\` | the base: a Deployment and a ConfigMap |
| \`deploy/\` | installs the operator: namespace \`${n.namespace}\`, a ServiceAccount, least-privilege RBAC, the Deployment |
| \`examples/${n.singular}.yaml\` | an example ${n.kind} |
| \`test/\` | unit tests, a golden render test (\`test/golden/\`) and an end-to-end test |
| \`Dockerfile\` | the operator's image |

Node.js 24 comes with \`npm install\` (the \`node\` package), as kustomate's own does; \`npm run\` puts it first on PATH.

## Run it

With a cluster in \`KUBECONFIG\` (or \`~/.kube/config\`) and kubectl (or \`KUSTOMATE_KUBECTL=/path/to/kubectl\`):

\`\`\`sh
kubectl apply -f crds/
npm start                                   # runs the operator; stop it with Ctrl-C
kubectl apply -f examples/${n.singular}.yaml      # in another terminal
kubectl get ${n.plural}
\`\`\`

## Look before you apply

\`\`\`sh
npm run render -- -f examples/${n.singular}.yaml   # what the operator would apply, no cluster needed
npm run diff -- -f examples/${n.singular}.yaml     # what applying it would change on the cluster: exit 0 none, 1 changes
\`\`\`

## Test

\`\`\`sh
npm test
\`\`\`

type-checks, then runs \`test/operator.test.ts\` (no cluster), \`test/golden.test.ts\` (kubectl, no cluster) and
\`test/e2e.test.ts\` (the operator against the cluster, in a namespace of its own). The golden test compares what
each \`test/golden/NAME.in.yaml\` renders with \`NAME.out.yaml\`; after an intended change to the base or the
operator, rewrite them and review the difference in git:

\`\`\`sh
npm run golden -- --update
\`\`\`

## Change the base

Edit \`kustomize/${n.name}/\`. A kind the base did not render before needs a rule in \`deploy/rbac.yaml\` (the
ClusterRole lists exactly the kinds the base renders), or the installed operator may not create it.

## Install

The Dockerfile takes kubectl from kustomate's image, \`${kustomateImage}\` by default: build it first with
\`npm run image\` in a checkout of that kustomate (or \`docker build -t ${kustomateImage} .\` there), or name
another with \`--build-arg KUSTOMATE_IMAGE=...\`.

\`\`\`sh
docker build -t ${n.name}:latest .
kubectl apply -f crds/ && kubectl apply -k deploy
\`\`\`

Or as an Operator Lifecycle Manager bundle: \`npm run bundle -- --version 0.1.0\` writes \`bundle/\` (see kustomate's README).
`;
}

export const GITIGNORE = 'node_modules/\nbundle/\n';
export const DOCKERIGNORE = 'node_modules/\nbundle/\ntest/\n';
