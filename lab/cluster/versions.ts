// Why: one place for the upstream versions and paths of the local control plane.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Kubernetes release whose kube-apiserver, controller-manager, scheduler and kubectl we build. */
export const KUBE_VERSION = 'v1.36.3';
/** kwok release that targets Kubernetes 1.36 and Go 1.26. */
export const KWOK_VERSION = 'v0.8.0';

export const CLUSTER_DIR = path.dirname(fileURLToPath(import.meta.url));
export const PROJECT_DIR = path.resolve(CLUSTER_DIR, '..', '..');
/** Git-ignored cache: binaries, kwok's work dir, the kubeconfig. Override with KUSTOMATE_CACHE. */
export const CACHE_DIR = process.env.KUSTOMATE_CACHE ?? path.join(PROJECT_DIR, '.cache');
export const BIN_DIR = path.join(CACHE_DIR, 'bin');
export const KWOK_WORKDIR = path.join(CACHE_DIR, 'kwok');
export const CLUSTER_NAME = process.env.KUSTOMATE_CLUSTER ?? 'kustomate';
/** The kubeconfig the local cluster writes; the user's ~/.kube/config is never touched. */
export const KUBECONFIG = path.join(CACHE_DIR, 'kubeconfig');

/** The commands we build, and the Go package each comes from. */
export const TOOLS: ReadonlyArray<{ bin: string; pkg: string }> = [
  { bin: 'kube-apiserver', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver' },
  { bin: 'kube-controller-manager', pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager' },
  { bin: 'kube-scheduler', pkg: 'k8s.io/kubernetes/cmd/kube-scheduler' },
  { bin: 'kubectl', pkg: 'k8s.io/kubernetes/cmd/kubectl' },
  { bin: 'etcd', pkg: 'go.etcd.io/etcd/server/v3' },
  { bin: 'kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwok' },
  { bin: 'kwokctl', pkg: 'sigs.k8s.io/kwok/cmd/kwokctl' },
];

export function binPath(name: string): string {
  return path.join(BIN_DIR, name);
}
