// Why: the Database operator of the kopf exercise: spec.type becomes a mongo or mysql Pod and a NodePort Service.
// Better than the seed: per-instance selectors, a generated root password in a Secret, pruning on type change,
// images only from allowed repositories, and nothing it does not own ever changed.
import { randomBytes } from 'node:crypto';
import { ApiError, type Api, type KubeObject } from '../../kube/api.ts';
import type { KustomizeSpec } from '../../kustomize/workdir.ts';
import { PermanentError } from '../../operator/errors.ts';
import { Operator, type HandlerContext } from '../../operator/operator.ts';
import { imageProblems } from '../images.ts';
import { at, nameProblems } from '../validate.ts';

export const DATABASE_TYPES = {
  mongo: { image: 'mongo:4.0', port: 27017 },
  mysql: { image: 'mysql:8.0', port: 3306 },
} as const;
export type DatabaseType = keyof typeof DATABASE_TYPES;

/** The Database's spec, as the CRD describes it. */
export interface DatabaseSpec {
  type: DatabaseType;
  image?: string;
}

/**
 * The problems of a Database: the type must be known and the image allowed (the CRD may be an older one), and
 * the name must be a DNS-1035 label, because the Service is named exactly like the Database.
 */
export function databaseProblems(obj: KubeObject): string[] {
  const type = at(obj, ['spec', 'type']);
  const image = at(obj, ['spec', 'image']);
  const problems = nameProblems(obj.metadata.name, 63, true);
  if (typeof type !== 'string' || !Object.hasOwn(DATABASE_TYPES, type)) {
    problems.push(`spec.type must be one of ${Object.keys(DATABASE_TYPES).join(', ')}, got ${JSON.stringify(type)?.slice(0, 60) ?? 'nothing'}`);
  }
  if (image !== undefined) problems.push(...imageProblems(image, 'spec.image'));
  return problems;
}

function typeOf(obj: KubeObject): DatabaseType {
  const problems = databaseProblems(obj);
  if (problems.length) throw new PermanentError(problems.join('; '), 'InvalidSpec');
  return at(obj, ['spec', 'type']) as DatabaseType;
}

/**
 * The Secret holding the mysql root password of one Database. Its name carries the Database's uid, so nothing can
 * have that name before the Database exists: kustomate creates it and never needs to read or check it.
 */
export const secretName = (obj: KubeObject) => `${obj.metadata.name}-mysql-root${obj.metadata.uid ? `-${obj.metadata.uid.slice(0, 8)}` : ''}`;

export function databaseSpec(obj: KubeObject): KustomizeSpec {
  const type = typeOf(obj);
  const name = obj.metadata.name;
  const image = at(obj, ['spec', 'image']) as string | undefined;
  const container: Record<string, unknown> = { name: type };
  if (image) container.image = image;
  if (type === 'mysql') {
    container.env = [{ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: secretName(obj), key: 'password' } } }];
  }
  return {
    base: 'database',
    kustomization: { components: [`base/${type}`] },
    // Exact names instead of a prefix: the Service is <name>, the Pod <name>-<type>, so a change of type
    // creates a new Pod (a Pod's containers cannot be changed in place); the old one, no longer rendered, is pruned.
    namePrefix: '',
    patches: container.image || container.env ? [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: type }, spec: { containers: [container] } }] : [],
    jsonPatches: [
      { target: { kind: 'Pod', name: type }, ops: [{ op: 'replace', path: '/metadata/name', value: `${name}-${type}` }] },
      { target: { kind: 'Service', name: 'database' }, ops: [{ op: 'replace', path: '/metadata/name', value: name }] },
    ],
  };
}

/**
 * Creates the root password Secret once, as a child of the Database (it goes with it). It is only ever created:
 * an existing one (409) is this Database's by its name, so the password never changes, and kustomate needs no
 * permission to read Secrets. A Database switched to mongo keeps it, for a switch back.
 */
async function ensureSecret(ctx: HandlerContext<DatabaseSpec>): Promise<void> {
  const { api, body } = ctx;
  const secret = ctx.adopt({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secretName(body) },
    type: 'Opaque',
    stringData: { password: randomBytes(24).toString('base64url') },
  });
  try {
    await api.request('POST', `/api/v1/namespaces/${encodeURIComponent(body.metadata.namespace ?? 'default')}/secrets`, { body: secret, signal: ctx.signal });
    ctx.logger.info({ secret: secretName(body) }, 'generated the mysql root password Secret');
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
  }
}

async function nodePort(api: Api, obj: KubeObject): Promise<number | undefined> {
  const svc = await api.request<{ spec?: { ports?: Array<{ nodePort?: number }> } }>(
    'GET',
    `/api/v1/namespaces/${encodeURIComponent(obj.metadata.namespace ?? 'default')}/services/${encodeURIComponent(obj.metadata.name)}`,
  );
  return svc.spec?.ports?.[0]?.nodePort;
}

export const database = new Operator<DatabaseSpec>({
  name: 'database',
  resource: { group: 'zalando.org', version: 'v1', plural: 'databases', kind: 'Database' },
})
  .validate(databaseProblems)
  // The seed's message, kubectl's output and the nodePort land in status.database.
  .kustomize('database', databaseSpec, {
    beforeApply: async (ctx) => (typeOf(ctx.body) === 'mysql' ? ensureSecret(ctx) : undefined),
    result: async (ctx, output) => ({
      message: `Pod and Service created by Database ${ctx.name}`,
      kubectl: output.stdout,
      type: typeOf(ctx.body),
      nodePort: await nodePort(ctx.api, ctx.body),
    }),
  });
