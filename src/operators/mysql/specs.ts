// Why: the kustomize specs of a MySQL: which components of kustomize/mysql/ each uses, and the patches that fill in
// the object's names, image, database, sizes and Secrets. Plain data, serialized with `yaml` by kustomate.
import type { KubeObject } from '../../kube/api.ts';
import type { KustomizeSpec } from '../../kustomize/workdir.ts';
import { currentRootSecret, namesOf, validSpec, type MySQLSpec } from './spec.ts';

type Ref = { name: string; key: string };

const rename = (kind: string, from: string, to: string) => ({ target: { kind, name: from }, ops: [{ op: 'replace', path: '/metadata/name', value: to }] });
const fromSecret = (name: string, ref: Ref) => ({ name, valueFrom: { secretKeyRef: ref } });

/** A claim on `size`: bound by name to a volume of the operator's own, or provisioned by the StorageClass. */
function claim(kind: string, base: string, size: string, spec: MySQLSpec, volume: string): object {
  const binding = spec.storageClassName ? { storageClassName: spec.storageClassName } : { storageClassName: '', volumeName: volume };
  return { apiVersion: 'v1', kind, metadata: { name: base }, spec: { resources: { requests: { storage: size } }, ...binding } };
}

/**
 * The base's local volume, for a claim on a cluster without a StorageClass. It is reserved for that one claim
 * (`spec.claimRef`, https://kubernetes.io/docs/concepts/storage/persistent-volumes/#reserving-a-persistentvolume):
 * a claim of any other name or namespace that names the volume stays Pending, so the volume's name, which is
 * predictable for the backups, lets no other tenant bind it.
 */
const localVolume = (size: string, path: string, claim: { namespace: string; name: string }) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name: 'volume' },
  spec: { capacity: { storage: size }, hostPath: { path, type: 'DirectoryOrCreate' }, claimRef: claim },
});

/** The server: data claim (and volume), Deployment and Service <name>. */
export function serverSpec(obj: KubeObject): KustomizeSpec {
  const spec = validSpec(obj);
  const n = namesOf(obj);
  const local = !spec.storageClassName;
  return {
    base: 'mysql',
    // Exact names instead of a prefix: the Service is <name>, as the seed's clients expect.
    namePrefix: '',
    kustomization: { components: ['base/server', ...(local ? ['base/local-pv'] : [])] },
    patches: [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'mysql' },
        spec: {
          template: {
            spec: {
              containers: [
                { name: 'mysql', image: spec.image, env: [{ name: 'MYSQL_DATABASE', value: spec.database }, fromSecret('MYSQL_ROOT_PASSWORD', currentRootSecret(obj))] },
              ],
              volumes: [{ name: 'data', persistentVolumeClaim: { claimName: n.dataClaim } }],
            },
          },
        },
      },
      claim('PersistentVolumeClaim', 'data', spec.storage_size, spec, n.dataVolume),
      ...(local ? [localVolume(spec.storage_size, n.dataPath, { namespace: n.namespace, name: n.dataClaim })] : []),
    ],
    jsonPatches: [
      rename('Deployment', 'mysql', n.server),
      rename('Service', 'mysql', n.server),
      rename('PersistentVolumeClaim', 'data', n.dataClaim),
      ...(local ? [rename('PersistentVolume', 'volume', n.dataVolume)] : []),
    ],
  };
}

/** The backup claim backup-<name>-pvc (and its volume): retained, so it outlives the MySQL object. */
export function backupStorageSpec(obj: KubeObject): KustomizeSpec {
  const spec = validSpec(obj);
  const n = namesOf(obj);
  const local = !spec.storageClassName;
  return {
    base: 'mysql',
    namePrefix: '',
    retain: true,
    kustomization: { components: ['base/backup-storage', ...(local ? ['base/local-pv'] : [])] },
    patches: [claim('PersistentVolumeClaim', 'backup', spec.storage_size, spec, n.backupVolume), ...(local ? [localVolume(spec.storage_size, n.backupPath, { namespace: n.namespace, name: n.backupClaim })] : [])],
    jsonPatches: [rename('PersistentVolumeClaim', 'backup', n.backupClaim), ...(local ? [rename('PersistentVolume', 'volume', n.backupVolume)] : [])],
  };
}

/** A Job of one of the *-job components, with its container's image and environment, under its own name. */
function jobSpec(obj: KubeObject, component: 'backup' | 'restore' | 'password', name: string, env: object[], extra: Partial<KustomizeSpec> = {}): KustomizeSpec {
  const spec = validSpec(obj);
  const n = namesOf(obj);
  const volumes = component === 'password' ? {} : { volumes: [{ name: 'backup', persistentVolumeClaim: { claimName: n.backupClaim } }] };
  return {
    base: 'mysql',
    namePrefix: '',
    kustomization: { components: [`base/${component}-job`] },
    patches: [
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: component },
        spec: { template: { spec: { containers: [{ name: component, image: spec.image, env: [{ name: 'MYSQL_HOST', value: n.server }, ...env] }], ...volumes } } },
      },
    ],
    jsonPatches: [rename('Job', component, name)],
    ...extra,
  };
}

/** The backup Job of this run: retained, like the backups, so `kubectl get jobs` shows it after the MySQL went. */
export function backupJobSpec(obj: KubeObject): KustomizeSpec {
  const spec = validSpec(obj);
  const env = [{ name: 'MYSQL_DATABASE', value: spec.database }, fromSecret('MYSQL_PWD', currentRootSecret(obj))];
  return jobSpec(obj, 'backup', namesOf(obj).backupJob, env, { retain: true });
}

/** The restore Job of this run: it loads the last backup, if there is one. */
export function restoreJobSpec(obj: KubeObject): KustomizeSpec {
  const spec = validSpec(obj);
  return jobSpec(obj, 'restore', namesOf(obj).restoreJob, [{ name: 'MYSQL_DATABASE', value: spec.database }, fromSecret('MYSQL_PWD', currentRootSecret(obj))]);
}

/** A password Job: from the old root Secret to the new one. */
export function passwordJobSpec(obj: KubeObject, name: string, from: Ref, to: Ref): KustomizeSpec {
  return jobSpec(obj, 'password', name, [fromSecret('MYSQL_PWD', from), fromSecret('NEW_PASSWORD', to)]);
}
