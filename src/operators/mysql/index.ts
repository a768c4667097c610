// Why: the MySQL operator of the otus course (otus.homework/v1), built from kustomize bases instead of Jinja templates:
// a server with its volumes, a backup volume that outlives it, a restore on create, a backup before delete, and a
// password change. Better than the seed: no password in Job arguments, literal env, status, logs or Events.
import { ApiError, patchContentType, type KubeObject } from '../../kube/api.ts';
import { OWNER_LABEL, ownerLabels, ownerSelector } from '../../kustomize/labels.ts';
import { PermanentError, WaitingError } from '../../operator/errors.ts';
import { healthOf } from '../../operator/health.ts';
import { Operator, type HandlerContext } from '../../operator/operator.ts';
import { currentRootSecret, mysqlProblems, namesOf, passwordJobName, rootSecret, validSpec, type MySQLSpec } from './spec.ts';
import { backupJobSpec, backupStorageSpec, passwordJobSpec, restoreJobSpec, serverSpec } from './specs.ts';

export { mysqlProblems, type MySQLSpec } from './spec.ts';
export { backupJobSpec, backupStorageSpec, passwordJobSpec, restoreJobSpec, serverSpec } from './specs.ts';

/** Set to "true" on a MySQL object to delete it without a backup (after a failed one, say). */
export const SKIP_BACKUP_ANNOTATION = 'kustomate.io/skip-backup';
/** On the backup claim: the Job that wrote the backup it holds, so a MySQL created again knows there is one. */
export const LAST_BACKUP_ANNOTATION = 'kustomate.io/last-backup';
/** How often a wait for a Job looks again when no event of the Job wakes it first. */
const JOB_POLL_MS = 3_000;

type Ctx = HandlerContext<MySQLSpec>;
type Job = KubeObject & { status?: { completionTime?: string } };

const jobsPath = (ns: string) => `/apis/batch/v1/namespaces/${encodeURIComponent(ns)}/jobs`;
const claimPath = (ns: string, name: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/persistentvolumeclaims/${encodeURIComponent(name)}`;

async function getOrUndefined<T>(ctx: Pick<Ctx, 'api' | 'signal'>, path: string): Promise<T | undefined> {
  try {
    return await ctx.api.request<T>('GET', path, { signal: ctx.signal });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

const getJob = (ctx: Ctx, name: string) => getOrUndefined<Job>(ctx, `${jobsPath(ctx.namespace)}/${encodeURIComponent(name)}`);

/** Applies a Job's spec once: a Job's pod template cannot change, and one that exists is this run's already. */
async function startJobOnce(ctx: Ctx, name: string, spec: Parameters<Ctx['kustomize']['apply']>[0]): Promise<Job | undefined> {
  const live = await getJob(ctx, name);
  if (!live) await ctx.kustomize.apply(spec);
  return live;
}

/**
 * The root password Secret for `spec.password`: created once per password (its name carries the password's digest),
 * as a child of the MySQL object, and never read: an existing one holds this password already.
 */
async function ensureRootSecret(ctx: Ctx): Promise<void> {
  const spec = validSpec(ctx.body);
  if (spec.password === undefined) return;
  const secret = ctx.adopt({ apiVersion: 'v1', kind: 'Secret', metadata: { name: currentRootSecret(ctx.body).name }, type: 'Opaque', stringData: { password: spec.password } });
  try {
    await ctx.api.request('POST', `/api/v1/namespaces/${encodeURIComponent(ctx.namespace)}/secrets`, { body: secret, signal: ctx.signal });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
  }
}

/**
 * The backup volume of a claim that is gone (its namespace was deleted, or someone deleted it) is Released: it still
 * names the old claim, uid included, and binds no other until that is cleared
 * (https://kubernetes.io/docs/concepts/storage/persistent-volumes/#retain). Its backup is this name's: reserve it
 * again for this MySQL's backup claim, by namespace and name without the old uid
 * (https://kubernetes.io/docs/concepts/storage/persistent-volumes/#reserving-a-persistentvolume). Never an empty
 * claimRef: that would make the volume Available to any claim that names it, in any namespace. Only a volume that
 * carries this MySQL's owner label is touched, and only as it was read (its resourceVersion).
 */
export async function reuseReleasedBackupVolume(ctx: Pick<Ctx, 'api' | 'body' | 'name' | 'signal'>): Promise<void> {
  const n = namesOf(ctx.body);
  const path = `/api/v1/persistentvolumes/${encodeURIComponent(n.backupVolume)}`;
  const volume = await getOrUndefined<KubeObject & { status?: { phase?: string } }>(ctx, path);
  if (volume?.status?.phase !== 'Released' || volume.metadata.labels?.[OWNER_LABEL] !== ownerLabels({ ...ctx.body, name: ctx.name }).owner[OWNER_LABEL]) return;
  const claimRef = { namespace: n.namespace, name: n.backupClaim, uid: null, resourceVersion: null };
  await ctx.api.request('PATCH', path, {
    body: { metadata: { resourceVersion: volume.metadata.resourceVersion }, spec: { claimRef } },
    contentType: patchContentType('merge'),
    signal: ctx.signal,
  });
}

/** On create: the backup volume (once; a MySQL of this name made before may have left it), then a restore Job. */
async function onCreate(ctx: Ctx) {
  const n = namesOf(ctx.body);
  await reuseReleasedBackupVolume(ctx);
  await ctx.kustomize.apply(backupStorageSpec(ctx.body));
  const claim = await getOrUndefined<KubeObject>(ctx, claimPath(ctx.namespace, n.backupClaim));
  const lastBackup = claim?.metadata.annotations?.[LAST_BACKUP_ANNOTATION];
  await startJobOnce(ctx, n.restoreJob, restoreJobSpec(ctx.body));
  return {
    message: `${ctx.name} created ${lastBackup ? 'with' : 'without'} restore-job`,
    restoreJob: n.restoreJob,
    ...(lastBackup ? { restoredFrom: lastBackup } : {}),
  };
}

/** On update: a new root password (or another passwordSecretRef) runs a Job that changes it in the server. */
async function onPasswordChange(ctx: Ctx) {
  const oldSpec = ((ctx.old as { spec?: Partial<MySQLSpec> } | undefined)?.spec ?? {}) as Partial<MySQLSpec>;
  // The last-handled spec holds the password's digest, never the password: that digest names the old Secret.
  const from = rootSecret(ctx.name, oldSpec, (digest) => digest);
  const to = currentRootSecret(ctx.body);
  if (!from || (from.name === to.name && from.key === to.key)) return undefined;
  const job = passwordJobName(ctx.name, from, to);
  await startJobOnce(ctx, job, passwordJobSpec(ctx.body, job, from, to));
  return { message: `root password changed by Job ${job} (from Secret ${from.name} to Secret ${to.name})`, job };
}

/** Backup and restore Jobs of earlier runs that completed (failed ones stay, for their logs). */
async function removeCompletedJobs(ctx: Ctx, keep: string): Promise<void> {
  const selector = `${ownerSelector({ ...ctx.body, name: ctx.name })},app.kubernetes.io/component in (backup,restore)`;
  const list = await ctx.api.request<{ items: Job[] }>('GET', jobsPath(ctx.namespace), { query: { labelSelector: selector }, signal: ctx.signal });
  // Items of a list carry no apiVersion and kind of their own.
  for (const job of list.items.map((j) => ({ ...j, apiVersion: 'batch/v1', kind: 'Job' }))) {
    if (job.metadata.name === keep || !healthOf(job).healthy) continue;
    try {
      await ctx.api.request('DELETE', `${jobsPath(ctx.namespace)}/${encodeURIComponent(job.metadata.name)}`, {
        body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid: job.metadata.uid } },
        signal: ctx.signal,
      });
    } catch (err) {
      if (!(err instanceof ApiError && (err.status === 404 || err.status === 409))) throw err;
    }
  }
}

/** Records on the backup claim which Job wrote its backup; a claim removed by hand since holds none to mark. */
async function markBackup(ctx: Ctx, claim: string, job: string): Promise<void> {
  try {
    await ctx.api.request('PATCH', claimPath(ctx.namespace, claim), {
      body: { metadata: { annotations: { [LAST_BACKUP_ANNOTATION]: job } } },
      contentType: patchContentType('merge'),
      signal: ctx.signal,
    });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
}

/**
 * Before the MySQL object goes: remove completed Jobs of earlier runs, run a backup Job and wait for it without
 * holding a worker (the object is looked at again when the Job changes, or every few seconds), then mark the backup
 * claim with it. A failed backup keeps the object (BackupFailed) until it is annotated kustomate.io/skip-backup.
 */
async function onDelete(ctx: Ctx) {
  const n = namesOf(ctx.body);
  if (ctx.body.metadata.annotations?.[SKIP_BACKUP_ANNOTATION] === 'true') return { message: `no backup: ${SKIP_BACKUP_ANNOTATION} is "true"` };
  let job = await getJob(ctx, n.backupJob);
  if (!job) {
    // A namespace being deleted takes the backup claim with it, and refuses new Jobs: nothing to back up to.
    const namespace = await getOrUndefined<KubeObject>(ctx, `/api/v1/namespaces/${encodeURIComponent(ctx.namespace)}`);
    if (namespace?.metadata.deletionTimestamp) return { message: `no backup: namespace ${ctx.namespace} is being deleted, and its backup claim with it` };
    const inventory = (ctx.body.status?.inventory as Record<string, Array<{ kind?: string }>> | undefined)?.mysql ?? [];
    if (!inventory.some((e) => e.kind === 'Deployment')) return { message: 'no backup: the server was never created' };
    await removeCompletedJobs(ctx, n.backupJob);
    // The backup volume may have been removed by hand since the create: the Job needs it.
    await ctx.kustomize.apply(backupStorageSpec(ctx.body));
    await ctx.kustomize.apply(backupJobSpec(ctx.body));
    job = await getJob(ctx, n.backupJob);
  }
  const health = job ? healthOf(job) : { healthy: false, message: 'not created yet' };
  if (health.failed) {
    throw new PermanentError(
      `backup Job ${ctx.namespace}/${n.backupJob} ${health.message}; the MySQL stays until a backup succeeds, or until it is annotated ${SKIP_BACKUP_ANNOTATION}="true"`,
      'BackupFailed',
    );
  }
  if (!health.healthy || !job) throw new WaitingError(`waiting for backup Job ${ctx.namespace}/${n.backupJob}: ${health.message}`, JOB_POLL_MS, 'BackingUp');
  await markBackup(ctx, n.backupClaim, `${n.backupJob} ${job.status?.completionTime ?? ''}`.trim());
  return { message: `backed up to ${n.backupClaim} by Job ${n.backupJob}` };
}

export const mysql = new Operator<MySQLSpec>({
  name: 'mysql',
  resource: { group: 'otus.homework', version: 'v1', plural: 'mysqls', kind: 'MySQL' },
  // The last-handled record in status keeps a digest of the password, never the password.
  secretFields: ['spec.password'],
})
  .validate(mysqlProblems)
  // The server: kubectl's output at status.mysql.kubectl; Ready waits for the claim Bound and the Deployment available.
  .kustomize('mysql', serverSpec, { beforeApply: ensureRootSecret, result: (_ctx, output) => ({ kubectl: output.stdout }) })
  // The seed's message at status.mysql_on_create.message; Ready also waits for the restore Job to complete.
  .onCreate('mysql_on_create', onCreate)
  .onUpdate('mysql_password', onPasswordChange)
  // Delete steps run in reverse order: this backup runs before the server's objects go.
  .onDelete('mysql_backup', onDelete);
