// Why: what a MySQL object (otus.homework/v1) may say, checked at the edge (the CRD may be an older one), and the
// names every object of one MySQL derives from it.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../kube/api.ts';
import { secretDigest } from '../../operator/digest.ts';
import { PermanentError } from '../../operator/errors.ts';
import { imageProblems } from '../images.ts';
import { at, nameProblems } from '../validate.ts';

/** A Secret key holding the root password. */
export interface SecretKeyRef {
  name: string;
  key?: string;
}

/** The MySQL's spec, as the CRD describes it (the seed's field names, storage_size included). */
export interface MySQLSpec {
  image: string;
  database: string;
  /** The root password, as the seed has it; `passwordSecretRef` keeps it out of the object. */
  password?: string;
  passwordSecretRef?: SecretKeyRef;
  storage_size: string;
  /** Without one, the operator makes a PersistentVolume for each claim, as the seed does. */
  storageClassName?: string;
}

/**
 * A MySQL's name is a Service name (DNS-1035), and `restore-<name>-<8 characters>` a Job name, which holds 63
 * characters (the Job controller copies it into a label of its pods).
 */
export const MAX_NAME = 40;
/** The largest volume a MySQL may ask for (1Ti): a workshop operator claims no more than that. */
export const MAX_STORAGE_BYTES = 2 ** 40;
export const MAX_PASSWORD = 128;

const UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const QUANTITY = /^([0-9]{1,15})(?:\.([0-9]{1,6}))?(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const DATABASE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
const PASSWORD = /^[ -~]+$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** The longest name of a Secret or a StorageClass (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-subdomain-names). */
const MAX_DNS_SUBDOMAIN = 253;
const DNS_SUBDOMAIN_RULE = `a DNS subdomain of at most ${MAX_DNS_SUBDOMAIN} characters`;
const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

/** The bytes a Kubernetes quantity such as 1Gi or 500M stands for; undefined when it is not one this operator takes. */
export function quantityBytes(raw: unknown): number | undefined {
  const m = typeof raw === 'string' ? QUANTITY.exec(raw) : null;
  if (!m) return undefined;
  return Number(`${m[1]}.${m[2] ?? '0'}`) * UNITS[m[3] ?? '']!;
}

const shown = (raw: unknown) => (JSON.stringify(raw) ?? 'nothing').slice(0, 60);

function refProblems(ref: unknown): string[] {
  if (!ref || typeof ref !== 'object' || Array.isArray(ref)) return ['spec.passwordSecretRef must be an object with name and key'];
  const { name, key } = ref as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof name !== 'string' || name.length > MAX_DNS_SUBDOMAIN || !DNS_SUBDOMAIN.test(name)) problems.push(`spec.passwordSecretRef.name must be a Secret name (${DNS_SUBDOMAIN_RULE}), got ${shown(name)}`);
  if (key !== undefined && (typeof key !== 'string' || !SECRET_KEY.test(key))) problems.push(`spec.passwordSecretRef.key must be a Secret key (letters, digits, - _ .), got ${shown(key)}`);
  return problems;
}

/** Every problem of a MySQL object, each naming the field and the limit. */
export function mysqlProblems(obj: KubeObject): string[] {
  const spec = at(obj, ['spec']);
  if (!spec || typeof spec !== 'object') return ['spec is required'];
  const s = spec as Record<string, unknown>;
  const problems = nameProblems(obj.metadata.name, MAX_NAME, true);
  problems.push(...imageProblems(s.image, 'spec.image'));
  if (typeof s.database !== 'string' || !DATABASE.test(s.database)) problems.push(`spec.database must be 1 to 64 letters, digits, _ or -, got ${shown(s.database)}`);
  const bytes = quantityBytes(s.storage_size);
  if (bytes === undefined) problems.push(`spec.storage_size must be a size such as 1Gi or 500Mi, got ${shown(s.storage_size)}`);
  else if (bytes <= 0) problems.push(`spec.storage_size must be more than 0, got ${shown(s.storage_size)}`);
  else if (bytes > MAX_STORAGE_BYTES) problems.push(`spec.storage_size must be at most 1Ti, got ${String(s.storage_size)}`);
  if (s.storageClassName !== undefined && (typeof s.storageClassName !== 'string' || s.storageClassName.length > MAX_DNS_SUBDOMAIN || !DNS_SUBDOMAIN.test(s.storageClassName))) {
    problems.push(`spec.storageClassName must be a StorageClass name (${DNS_SUBDOMAIN_RULE}), got ${shown(s.storageClassName)}`);
  }
  const hasPassword = s.password !== undefined;
  const hasRef = s.passwordSecretRef !== undefined;
  if (hasPassword === hasRef) problems.push('spec must give exactly one of password and passwordSecretRef');
  // The value is never quoted back: it is a password.
  if (hasPassword && (typeof s.password !== 'string' || s.password.length > MAX_PASSWORD || !PASSWORD.test(s.password))) {
    problems.push(`spec.password must be 1 to ${MAX_PASSWORD} printable ASCII characters`);
  }
  if (hasRef) problems.push(...refProblems(s.passwordSecretRef));
  return problems;
}

/** The spec of a valid object; PermanentError(InvalidSpec) otherwise (builders also run from `kustomate render`). */
export function validSpec(obj: KubeObject): MySQLSpec {
  const problems = mysqlProblems(obj);
  if (problems.length) throw new PermanentError(problems.join('; '), 'InvalidSpec');
  return obj.spec as MySQLSpec;
}

const shortHash = (text: string, length = 8) => createHash('sha256').update(text).digest('hex').slice(0, length);
const uid8 = (obj: KubeObject) => (obj.metadata.uid ?? 'offline').slice(0, 8);

/** The names of one MySQL's objects; those of the backups depend on its namespace and name only, so they outlive it. */
export function namesOf(obj: KubeObject) {
  const { name } = obj.metadata;
  const namespace = obj.metadata.namespace ?? 'default';
  return {
    namespace,
    server: name,
    dataClaim: `${name}-pvc`,
    // Cluster-scoped, so unique across namespaces: by the object's uid, as dynamically provisioned volumes are.
    dataVolume: `mysql-${obj.metadata.uid ?? name}`,
    dataPath: `/var/lib/kustomate/mysql/${obj.metadata.uid ?? name}`,
    backupClaim: `backup-${name}-pvc`,
    // The hash tells namespace a-b, name c from namespace a, name b-c.
    backupVolume: `backup-${namespace}-${name}-${shortHash(`${namespace}/${name}`)}`,
    backupPath: `/var/lib/kustomate/mysql-backup/${namespace}/${name}`,
    // One per run: a Job's pod template cannot change, and a MySQL created again is another run.
    backupJob: `backup-${name}-${uid8(obj)}`,
    restoreJob: `restore-${name}-${uid8(obj)}`,
  };
}

/**
 * The Secret key holding the root password: `spec.passwordSecretRef`, or the Secret the operator keeps for
 * `spec.password`, named by the password's digest, so a new password is a new Secret and the old one stays for
 * the change. `passwordDigest` is that digest: computed for a live object, as recorded for a last-handled spec.
 */
export function rootSecret(name: string, spec: Partial<MySQLSpec>, passwordDigest: (password: string) => string): { name: string; key: string } | undefined {
  if (spec.passwordSecretRef) return { name: spec.passwordSecretRef.name, key: spec.passwordSecretRef.key ?? 'password' };
  if (typeof spec.password !== 'string') return undefined;
  return { name: `${name}-mysql-root-${passwordDigest(spec.password).replace(/^sha256:/, '').slice(0, 10)}`, key: 'password' };
}

/** The root Secret of a live object. */
export function currentRootSecret(obj: KubeObject): { name: string; key: string } {
  const spec = validSpec(obj);
  return rootSecret(obj.metadata.name, spec, (p) => secretDigest(obj.metadata.uid ?? '', p))!;
}

/** The password Job for one change: its name tells changes apart. */
export const passwordJobName = (name: string, from: { name: string; key: string }, to: { name: string; key: string }) =>
  `password-${name}-${shortHash(JSON.stringify([from, to]))}`;
