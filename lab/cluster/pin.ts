// Why: regenerate lab/cluster/go.mod from upstream, so the staging `replace` list is derived, not typed.
// Maintainers run it when KUBE_VERSION or KWOK_VERSION changes: `node lab/cluster/pin.ts`.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CLUSTER_DIR, KUBE_VERSION, KWOK_VERSION, TOOLS } from './versions.ts';

interface GoModJson {
  Require?: Array<{ Path: string; Version: string }>;
  Replace?: Array<{ Old: { Path: string }; New: { Path: string; Version?: string } }>;
}

const go = (args: string[]) =>
  execa('go', args, { cwd: CLUSTER_DIR, timeout: 30 * 60_000, stderr: 'inherit' });

/** k8s.io/kubernetes points its staging modules at ./staging; we point them at the published v0.X.Y. */
async function upstreamGoMod(): Promise<GoModJson> {
  const { stdout } = await go(['mod', 'download', '-json', `k8s.io/kubernetes@${KUBE_VERSION}`]);
  const file = (JSON.parse(stdout) as { GoMod: string }).GoMod;
  const parsed = await go(['mod', 'edit', '-json', file]);
  return JSON.parse(parsed.stdout) as GoModJson;
}

async function main(): Promise<void> {
  const upstream = await upstreamGoMod();
  const stagingVersion = KUBE_VERSION.replace(/^v1\./, 'v0.');
  const staging = (upstream.Replace ?? []).filter((r) => r.New.Path.startsWith('./staging/'));
  if (staging.length === 0) throw new Error('no ./staging replaces found in the upstream go.mod');
  const etcd = (upstream.Require ?? []).find((r) => r.Path === 'go.etcd.io/etcd/server/v3');
  if (!etcd) throw new Error('upstream go.mod does not pin go.etcd.io/etcd/server/v3');

  await fs.rm(path.join(CLUSTER_DIR, 'go.mod'), { force: true });
  await fs.rm(path.join(CLUSTER_DIR, 'go.sum'), { force: true });
  await go(['mod', 'init', 'kustomate.local/lab/cluster']);
  await go(['mod', 'edit', '-go=1.26.0', ...staging.map((r) => `-replace=${r.Old.Path}=${r.Old.Path}@${stagingVersion}`)]);
  const versionOf = (pkg: string) =>
    pkg.startsWith('k8s.io/kubernetes/') ? KUBE_VERSION : pkg.startsWith('go.etcd.io/') ? etcd.Version : KWOK_VERSION;
  await go(['get', '-tool', ...TOOLS.map((t) => `${t.pkg}@${versionOf(t.pkg)}`)]);
  await go(['mod', 'tidy']);
  console.log(`pinned Kubernetes ${KUBE_VERSION} (${staging.length} staging replaces), etcd ${etcd.Version}, kwok ${KWOK_VERSION}`);
}

await main();
