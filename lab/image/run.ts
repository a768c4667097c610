// Why: kwok's nodes run no container, so the installed Deployment's pod is run here under podman, as a kubelet would.
//
// The pod's image, arguments and security context, with the in-cluster configuration of its ServiceAccount: a
// TokenRequest token and the cluster's CA, mounted read-only, and KUBERNETES_SERVICE_HOST/PORT.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { IMAGE, PODMAN_GLOBAL, PODMAN_RUN, podman } from './podman.ts';

/** Where a kubelet mounts a pod's ServiceAccount token, CA and namespace. */
export const SA_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The parts of a Deployment's pod template this runner understands. */
export interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: {
    serviceAccountName?: string;
    terminationGracePeriodSeconds?: number;
    securityContext?: SecurityContext & { seccompProfile?: { type: string } };
    containers: Array<{
      name: string;
      image: string;
      args?: string[];
      env?: Array<{ name: string; value?: string }>;
      securityContext?: SecurityContext & { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
      volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
    }>;
    volumes?: Array<{ name: string; emptyDir?: { sizeLimit?: string } }>;
  };
}

interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
}

export interface ContainerOptions {
  /** The pod to run: its first container, with its security context, emptyDir volumes and env. */
  template: PodTemplate;
  namespace: string;
  /** kubectl and kubeconfig of the cluster: its server and CA, and the credentials that request the token. */
  kubectl: string;
  kubeconfig: string;
  /** In place of the container's image and args. */
  image?: string;
  args?: string[];
  /** Host folders for emptyDir volumes by volume name (so they outlive a container, as a pod's do); else tmpfs. */
  emptyDirs?: Record<string, string>;
  /** More host paths, mounted read-only: [host path, container path]. */
  mounts?: Array<[string, string]>;
  env?: Record<string, string>;
  /** Lifetime of the token (TokenRequest expirationSeconds); default 1 hour. */
  tokenSeconds?: number;
}

export interface Container {
  name: string;
  /** The host folder mounted read-only at SA_MOUNT. */
  serviceAccountDir: string;
  /** The pod's grace period, in seconds: how long `stop` waits before SIGKILL. */
  gracePeriod: number;
  logs(): Promise<string>;
  /** The host pid of the container's PID 1, or undefined once it has stopped. */
  pid(): Promise<number | undefined>;
  /** Sends a signal to PID 1. */
  kill(signal: string): Promise<void>;
  /** Waits until it has exited; its exit code. */
  wait(): Promise<number>;
  /** SIGTERM, then SIGKILL after the grace period, as a kubelet stops a pod; the exit code. */
  stop(): Promise<number>;
  /** Removes the container and its service account folder. */
  remove(): Promise<void>;
}

/** The server and CA of the kubeconfig's current context. */
async function clusterOf(kubectl: string, kubeconfig: string): Promise<{ server: URL; ca: Buffer }> {
  const view = JSON.parse((await execa(kubectl, ['--kubeconfig', kubeconfig, 'config', 'view', '--raw', '--minify', '-o', 'json'], { timeout: 30_000 })).stdout);
  const cluster = view.clusters?.[0]?.cluster ?? {};
  const ca = cluster['certificate-authority-data'] ? Buffer.from(cluster['certificate-authority-data'], 'base64') : await fs.readFile(cluster['certificate-authority']);
  return { server: new URL(cluster.server), ca };
}

/** The user and group the container runs as: the pod's, else the image's (which must be numeric to be checked). */
async function userOf(image: string, sc: SecurityContext): Promise<{ uid: number; gid: number }> {
  const configured = (await podman(['image', 'inspect', image, '--format', '{{.Config.User}}'])).stdout.trim();
  const [u, g] = configured.split(':');
  const uid = sc.runAsUser ?? Number(u || 0);
  const gid = sc.runAsGroup ?? Number(g ?? uid);
  // A kubelet refuses to start a runAsNonRoot container whose user is root, or not numeric.
  if (sc.runAsNonRoot && !(Number.isInteger(uid) && uid > 0)) throw new Error(`runAsNonRoot, but ${image} runs as "${configured || 'root'}"`);
  return { uid, gid };
}

/** A free TCP port on 127.0.0.1 (the container shares the host's network, so its health port must be free). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the pod's container, detached; see ContainerOptions. */
export async function startContainer(opts: ContainerOptions): Promise<Container> {
  const { template } = opts;
  const container = template.spec.containers[0];
  if (!container) throw new Error('the pod template has no container');
  const image = opts.image ?? container.image;
  const podSc = template.spec.securityContext ?? {};
  const sc = { ...podSc, ...container.securityContext };
  const { uid, gid } = await userOf(image, sc);
  const sa = template.spec.serviceAccountName ?? 'default';
  const { server, ca } = await clusterOf(opts.kubectl, opts.kubeconfig);

  // The service account folder a kubelet projects: token (from the TokenRequest API), ca.crt and namespace.
  const saDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-sa-'));
  const token = (
    await execa(opts.kubectl, ['--kubeconfig', opts.kubeconfig, 'create', 'token', sa, '-n', opts.namespace, `--duration=${opts.tokenSeconds ?? 3600}s`], { timeout: 30_000 })
  ).stdout.trim();
  const files: Array<[string, string | Buffer]> = [['token', token], ['ca.crt', ca], ['namespace', opts.namespace]];
  for (const [file, content] of files) {
    await fs.writeFile(path.join(saDir, file), content, { mode: 0o400 });
    await fs.chown(path.join(saDir, file), uid, gid);
  }
  await fs.chmod(saDir, 0o500);
  await fs.chown(saDir, uid, gid);

  const flags = ['--detach', '--user', `${uid}:${gid}`, '--hostname', `kustomate-${randomBytes(3).toString('hex')}`];
  if (sc.readOnlyRootFilesystem) flags.push('--read-only', '--read-only-tmpfs=false');
  if (sc.allowPrivilegeEscalation === false) flags.push('--security-opt=no-new-privileges');
  for (const cap of sc.capabilities?.drop ?? []) flags.push(`--cap-drop=${cap.toLowerCase()}`);
  for (const cap of sc.capabilities?.add ?? []) flags.push(`--cap-add=${cap.toLowerCase()}`);
  // RuntimeDefault is podman's default seccomp profile; anything else this runner does not know.
  if (podSc.seccompProfile && podSc.seccompProfile.type !== 'RuntimeDefault') throw new Error(`seccompProfile ${podSc.seccompProfile.type} is not supported here`);
  for (const mount of container.volumeMounts ?? []) {
    const volume = template.spec.volumes?.find((v) => v.name === mount.name);
    if (!volume?.emptyDir) throw new Error(`volume ${mount.name}: only emptyDir volumes are supported here`);
    const host = opts.emptyDirs?.[mount.name];
    if (host) {
      await fs.chown(host, uid, gid);
      flags.push('--volume', `${host}:${mount.mountPath}:rw`);
    } else {
      flags.push('--tmpfs', `${mount.mountPath}:rw,mode=1777${volume.emptyDir.sizeLimit ? `,size=${volume.emptyDir.sizeLimit.replace(/i$/, '').toLowerCase()}` : ''}`);
    }
  }
  flags.push('--volume', `${saDir}:${SA_MOUNT}:ro`);
  for (const [host, inside] of opts.mounts ?? []) flags.push('--volume', `${host}:${inside}:ro`);
  const env: Record<string, string> = {
    KUBERNETES_SERVICE_HOST: server.hostname.replace(/^\[|\]$/g, ''),
    KUBERNETES_SERVICE_PORT: server.port || '443',
    ...Object.fromEntries((container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!])),
    ...opts.env,
  };
  for (const [k, v] of Object.entries(env)) flags.push('--env', `${k}=${v}`);

  const name = `kustomate-${randomBytes(4).toString('hex')}`;
  const gracePeriod = template.spec.terminationGracePeriodSeconds ?? 30;
  await podman(['run', '--name', name, ...PODMAN_RUN, ...flags, image, ...(opts.args ?? container.args ?? [])], { timeout: 120_000 });

  const state = async () => (await podman(['inspect', name, '--format', '{{.State.Pid}} {{.State.Running}}'], { reject: false })).stdout.trim();
  return {
    name,
    serviceAccountDir: saDir,
    gracePeriod,
    logs: async () => (await podman(['logs', name], { reject: false })).all,
    pid: async () => {
      const [pid, running] = (await state()).split(' ');
      return running === 'true' ? Number(pid) : undefined;
    },
    kill: async (signal) => void (await podman(['kill', '--signal', signal, name])),
    wait: async () => Number((await podman(['wait', name], { timeout: (gracePeriod + 120) * 1000 })).stdout.trim()),
    stop: async () => {
      await podman(['stop', '--time', String(gracePeriod), name], { timeout: (gracePeriod + 60) * 1000 });
      return Number((await podman(['inspect', name, '--format', '{{.State.ExitCode}}'])).stdout.trim());
    },
    remove: async () => {
      await podman(['rm', '--force', '--time', '0', name], { reject: false });
      await fs.rm(saDir, { recursive: true, force: true });
    },
  };
}

/** The pod template of a Deployment on the cluster. */
export async function deployedTemplate(kubectl: string, kubeconfig: string, namespace: string, name: string): Promise<PodTemplate> {
  const deployment = JSON.parse((await execa(kubectl, ['--kubeconfig', kubeconfig, 'get', 'deployment', name, '-n', namespace, '-o', 'json'], { timeout: 30_000 })).stdout);
  return deployment.spec.template as PodTemplate;
}

/** Replaces the value of `--health-port` (either spelling) with `port`, or adds it. */
export function withHealthPort(args: string[], port: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--health-port') i++;
    else if (!args[i]!.startsWith('--health-port=')) out.push(args[i]!);
  }
  return [...out, `--health-port=${port}`];
}

// `node lab/image/run.ts`: the installed kustomate Deployment (kustomate-system/kustomate), run here in the
// foreground: its logs follow, and SIGINT or SIGTERM stop it as a kubelet would.
if (import.meta.main) {
  const kubectl = process.env.KUBECTL ?? process.env.KUSTOMATE_KUBECTL ?? 'kubectl';
  const kubeconfig = process.env.KUBECONFIG ?? path.join(os.homedir(), '.kube', 'config');
  const namespace = process.env.KUSTOMATE_NAMESPACE ?? 'kustomate-system';
  try {
    const template = await deployedTemplate(kubectl, kubeconfig, namespace, 'kustomate');
    const port = await freePort();
    const args = withHealthPort(template.spec.containers[0]?.args ?? [], port);
    const image = process.env.KUSTOMATE_IMAGE ?? IMAGE;
    const c = await startContainer({ template, namespace, kubectl, kubeconfig, image, args });
    console.error(`running ${image} as container ${c.name}, health on 127.0.0.1:${port}: ${args.join(' ')}`);
    const follow = execa('podman', [...PODMAN_GLOBAL, 'logs', '--follow', c.name], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 24 * 3600_000, reject: false });
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      const code = await c.stop();
      await c.remove();
      follow.kill();
      console.error(`container ${c.name} stopped, exit code ${code}`);
      process.exit(code);
    };
    process.on('SIGINT', () => void stop());
    process.on('SIGTERM', () => void stop());
    const code = await c.wait();
    if (!stopping) {
      await c.remove();
      console.error(`container ${c.name} exited with code ${code}`);
      process.exit(code || 1);
    }
  } catch (err) {
    console.error(`image:run: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
