// Why: no image registry is reachable here, so the Dockerfile's base images are built locally and cached.
//
// Each is the equivalent of its public namesake: a Debian bookworm rootfs (mmdebstrap), Node.js on it (the npm
// registry's `node` package, with npm), and Go on it (the machine's Go), cached by what it is built from.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { PROJECT_DIR } from '../cluster/versions.ts';
import { IMAGE_CACHE, buildah, imageExists, podman } from './podman.ts';
import { which } from './tools.ts';

/** The build arguments of the Dockerfile, as local image names. */
export interface BaseImages {
  BASE_IMAGE: string;
  NODE_IMAGE: string;
  GO_IMAGE: string;
}

type Log = (line: string) => void;

const RECIPE = fileURLToPath(import.meta.url);
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Debian bookworm as in debian:bookworm-slim (no documentation, manual pages or translations), plus
 * ca-certificates (module and package downloads in the build stages) and tini (the image's PID 1).
 */
const MMDEBSTRAP_ARGS = [
  '--variant=minbase',
  '--include=ca-certificates,tini',
  '--dpkgopt=path-exclude=/usr/share/man/*',
  '--dpkgopt=path-exclude=/usr/share/doc/*',
  '--dpkgopt=path-include=/usr/share/doc/*/copyright',
  '--dpkgopt=path-exclude=/usr/share/locale/*',
  '--dpkgopt=path-exclude=/usr/share/info/*',
  'bookworm',
];

/** A short digest of what an image is made of; with `recipe`, of this file too. */
async function key(parts: string[], recipe = true): Promise<string> {
  const hash = createHash('sha256').update(recipe ? await fs.readFile(RECIPE) : '');
  for (const p of parts) hash.update(`\0${p}`);
  return hash.digest('hex').slice(0, 12);
}

const exists = (file: string) => fs.access(file).then(() => true, () => false);

async function timed<T>(log: Log, what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  log(`${what} …`);
  const result = await fn();
  log(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

/** The Debian rootfs: imported from its cached tarball, which mmdebstrap makes when it is missing. */
async function debianBase(log: Log): Promise<string> {
  // By its arguments only: the rootfs (the slow part) is not rebuilt for every change of this file.
  const k = await key(MMDEBSTRAP_ARGS, false);
  const tag = `localhost/kustomate-base/debian:bookworm-${k}`;
  if (await imageExists(tag)) return tag;
  const tarball = path.join(IMAGE_CACHE, `debian-bookworm-${k}.tar`);
  if (!(await exists(tarball))) {
    const partial = `${tarball}.partial.tar`;
    await timed(log, 'Debian bookworm rootfs (mmdebstrap)', () =>
      execa('mmdebstrap', ['--quiet', ...MMDEBSTRAP_ARGS, partial], { timeout: 900_000, stdio: ['ignore', 'inherit', 'inherit'] }),
    );
    await fs.rename(partial, tarball);
  }
  await timed(log, `import ${tag}`, () => podman(['import', '--change', `ENV ${PATH_ENV}`, '--change', 'CMD ["/bin/bash"]', tarball, tag], { timeout: 300_000 }));
  return tag;
}

/** Builds `tag` from `from` with the files of `copies` (source on this machine, destination in the image). */
async function layer(from: string, tag: string, copies: Array<[string, string]>, env: string[]): Promise<void> {
  const ctr = (await buildah(['from', '--pull=never', from])).stdout.trim();
  try {
    for (const [src, dest] of copies) await buildah(['copy', ctr, src, dest], { timeout: 600_000 });
    await buildah(['config', ...env.flatMap((e) => ['--env', e]), ctr]);
    await buildah(['commit', '--quiet', ctr, tag], { timeout: 600_000 });
  } finally {
    await buildah(['rm', ctr], { reject: false });
  }
}

/** Node.js as in node:24-bookworm-slim: the project's Node 24 binary and npm in /usr/local. */
async function nodeBase(debian: string, log: Log): Promise<string> {
  // The npm registry's `node` package puts the official Node.js binary here (npm ci installs it).
  const nodeBin = path.join(PROJECT_DIR, 'node_modules', 'node', 'bin', 'node');
  const nodeVersion = (await execa(nodeBin, ['--version'], { timeout: 30_000 })).stdout.trim().replace(/^v/, '');
  // The npm that runs this script, in the image too (the official images bundle npm with Node.js).
  const npmVersion = (await execa('npm', ['--version'], { timeout: 30_000 })).stdout.trim();
  const k = await key([debian, nodeVersion, npmVersion, String((await fs.stat(nodeBin)).size)]);
  const tag = `localhost/kustomate-base/node:${nodeVersion}-${k}`;
  if (await imageExists(tag)) return tag;
  const npmTarball = path.join(IMAGE_CACHE, `npm-${npmVersion}.tgz`);
  if (!(await exists(npmTarball))) {
    await execa('npm', ['pack', `npm@${npmVersion}`, '--pack-destination', IMAGE_CACHE, '--silent'], { timeout: 300_000 });
  }
  const stage = await fs.mkdtemp(path.join(IMAGE_CACHE, 'node-stage-'));
  try {
    const bin = path.join(stage, 'usr', 'local', 'bin');
    const npmDir = path.join(stage, 'usr', 'local', 'lib', 'node_modules', 'npm');
    await fs.mkdir(bin, { recursive: true });
    await fs.mkdir(npmDir, { recursive: true });
    await fs.copyFile(nodeBin, path.join(bin, 'node'));
    await execa('tar', ['-xzf', npmTarball, '--strip-components=1', '--no-same-owner', '-C', npmDir], { timeout: 120_000 });
    await fs.symlink('../lib/node_modules/npm/bin/npm-cli.js', path.join(bin, 'npm'));
    await fs.symlink('../lib/node_modules/npm/bin/npx-cli.js', path.join(bin, 'npx'));
    await timed(log, `build ${tag}`, () => layer(debian, tag, [[stage, '/']], [`NODE_VERSION=${nodeVersion}`]));
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
  }
  return tag;
}

/** The machine's Go, located as `go` finds itself. */
export async function goEnv(): Promise<{ go: string; GOROOT: string; GOVERSION: string; GOMODCACHE: string }> {
  const go = (await which('go')) ?? '/usr/local/go/bin/go';
  const [GOROOT = '', GOVERSION = '', GOMODCACHE = ''] = (await execa(go, ['env', 'GOROOT', 'GOVERSION', 'GOMODCACHE'], { timeout: 30_000 })).stdout.split('\n');
  return { go, GOROOT, GOVERSION, GOMODCACHE };
}

/** Go as in golang:1.26-bookworm: GOROOT /usr/local/go, GOPATH /go, no toolchain switching. */
async function goBase(debian: string, log: Log): Promise<string> {
  const { GOROOT, GOVERSION } = await goEnv();
  const k = await key([debian, GOVERSION, GOROOT]);
  const tag = `localhost/kustomate-base/go:${GOVERSION.replace(/^go/, '')}-${k}`;
  if (await imageExists(tag)) return tag;
  await timed(log, `build ${tag}`, () =>
    layer(debian, tag, [[GOROOT, '/usr/local/go']], ['GOPATH=/go', 'GOTOOLCHAIN=local', 'PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']),
  );
  return tag;
}

/** The three local base images, built or taken from the cache. */
export async function localBases(log: Log = console.log): Promise<BaseImages> {
  await fs.mkdir(IMAGE_CACHE, { recursive: true });
  const debian = await debianBase(log);
  return { BASE_IMAGE: debian, NODE_IMAGE: await nodeBase(debian, log), GO_IMAGE: await goBase(debian, log) };
}
