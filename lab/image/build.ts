// Why: `npm run image`: the Dockerfile built into localhost/kustomate:<version> with buildah, from local bases.
//
// The build reuses the machine's Go module cache and npm cache, and keeps a Go build cache of its own in .cache.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_DIR } from '../cluster/versions.ts';
import { goEnv, localBases } from './bases.ts';
import { IMAGE, IMAGE_CACHE, buildah } from './podman.ts';
import { ensureImageTools } from './tools.ts';

type Log = (line: string) => void;

function fmt(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Builds the image from the checkout `context` (this one by default); returns its name. */
export async function buildImage(opts: { context?: string; log?: Log } = {}): Promise<string> {
  const log = opts.log ?? console.log;
  const context = opts.context ?? PROJECT_DIR;
  const started = Date.now();
  await ensureImageTools(log);
  const bases = await localBases(log);
  const { GOMODCACHE } = await goEnv();
  const npmCache = (await execa('npm', ['config', 'get', 'cache'], { timeout: 30_000 })).stdout.trim();
  const goBuildCache = path.join(IMAGE_CACHE, 'go-build');
  for (const dir of [GOMODCACHE, npmCache, goBuildCache]) await fs.mkdir(dir, { recursive: true });
  log(`building ${IMAGE} from ${context}`);
  await buildah(
    [
      'bud',
      // chroot isolation: RUN steps need no network or user namespace of their own; --layers keeps each step's
      // result, so a rebuild redoes only the steps whose inputs changed.
      '--isolation',
      'chroot',
      '--layers',
      '--pull=never',
      ...Object.entries(bases).flatMap(([arg, image]) => ['--build-arg', `${arg}=${image}`]),
      // Build-time mounts only (nothing of them lands in the image): modules and packages already downloaded
      // here, and the compiled Go packages of earlier builds.
      '--volume',
      `${GOMODCACHE}:/go/pkg/mod`,
      '--volume',
      `${goBuildCache}:/root/.cache/go-build`,
      '--volume',
      `${npmCache}:/root/.npm`,
      '--file',
      path.join(context, 'Dockerfile'),
      '--tag',
      IMAGE,
      context,
    ],
    { timeout: 30 * 60_000, inherit: true },
  );
  log(`built ${IMAGE} in ${fmt(Date.now() - started)}`);
  return IMAGE;
}

if (import.meta.main) {
  try {
    await buildImage();
  } catch (err) {
    console.error(`image: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
