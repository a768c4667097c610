// Why: compile the control plane from lab/cluster/go.mod into the git-ignored cache, once per go.sum.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { BIN_DIR, CLUSTER_DIR, KUBE_VERSION, TOOLS, binPath } from './versions.ts';

const STAMP = `${BIN_DIR}/.stamp`;
const BUILD_TIMEOUT_MS = 60 * 60_000;

/** -X flags that give each binary a real version string instead of upstream's placeholder. */
function ldflags(pkg: string): string {
  const [major, minor] = KUBE_VERSION.replace(/^v/, '').split('.');
  const flags = ['-s', '-w'];
  if (pkg.startsWith('k8s.io/kubernetes/')) {
    for (const p of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
      flags.push(
        `-X ${p}.gitVersion=${KUBE_VERSION}`,
        `-X ${p}.gitMajor=${major}`,
        `-X ${p}.gitMinor=${minor}`,
        `-X ${p}.gitTreeState=clean`,
        `-X ${p}.buildDate=1970-01-01T00:00:00Z`,
      );
    }
  }
  if (pkg.startsWith('sigs.k8s.io/kwok/')) {
    flags.push(`-X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION.replace(/^v/, '')}`);
  }
  return flags.join(' ');
}

/** The cache is valid while go.mod, go.sum, this recipe and the Go toolchain are unchanged. */
async function wantedStamp(): Promise<string> {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'build.ts', 'versions.ts']) hash.update(await fs.readFile(`${CLUSTER_DIR}/${f}`));
  hash.update((await execa('go', ['version'], { timeout: 30_000 })).stdout);
  return hash.digest('hex');
}

async function cacheIsFresh(stamp: string): Promise<boolean> {
  const have = await fs.readFile(STAMP, 'utf8').catch(() => '');
  if (have.trim() !== stamp) return false;
  const present = await Promise.all(TOOLS.map((t) => fs.access(binPath(t.bin)).then(() => true, () => false)));
  return present.every(Boolean);
}

function fmt(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Builds every missing or stale binary; returns quickly when the cache matches go.sum. */
export async function buildCluster(log: (line: string) => void = console.log): Promise<void> {
  const stamp = await wantedStamp();
  if (await cacheIsFresh(stamp)) {
    log(`control plane binaries are up to date in ${BIN_DIR}`);
    return;
  }
  await fs.mkdir(BIN_DIR, { recursive: true });
  await fs.rm(STAMP, { force: true });
  const started = Date.now();
  for (const [i, tool] of TOOLS.entries()) {
    const t0 = Date.now();
    log(`[${i + 1}/${TOOLS.length}] building ${tool.bin} (${tool.pkg})`);
    const beat = setInterval(() => log(`    … still building ${tool.bin}, ${fmt(Date.now() - t0)}`), 30_000);
    try {
      await execa('go', ['build', '-trimpath', '-buildvcs=false', '-ldflags', ldflags(tool.pkg), '-o', binPath(tool.bin), tool.pkg], {
        cwd: CLUSTER_DIR,
        timeout: BUILD_TIMEOUT_MS,
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { CGO_ENABLED: '0' },
      });
    } finally {
      clearInterval(beat);
    }
    log(`    built ${tool.bin} in ${fmt(Date.now() - t0)}`);
  }
  await fs.writeFile(STAMP, `${stamp}\n`);
  log(`control plane built in ${fmt(Date.now() - started)} into ${BIN_DIR}`);
}

if (import.meta.main) await buildCluster();
