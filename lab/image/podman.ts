// Why: the image's name and cache folder, and podman and buildah run the one way that works on these machines.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { kustomateImage } from '../../src/scaffold/image.ts';
import { CACHE_DIR, PROJECT_DIR } from '../cluster/versions.ts';

const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, 'package.json'), 'utf8')) as { version: string };

/** The image `npm run image` builds: the package's version is its tag (`kustomate new` writes the same name). */
export const IMAGE = kustomateImage(pkg.version);
/** Base rootfs tarballs, downloaded packages and the Go build cache of image builds. */
export const IMAGE_CACHE = path.join(CACHE_DIR, 'image');

/**
 * Global podman flags. runc, because crun fails on hybrid (v1 + v2) cgroup hierarchies; cgroupfs, because there
 * is no systemd to ask for cgroups.
 */
export const PODMAN_GLOBAL = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];
/**
 * `podman run` flags every container gets here: the host's network (the local API server listens on 127.0.0.1
 * only), and explicit limits, since podman's default nofile limit is above what these machines allow.
 */
export const PODMAN_RUN = ['--network=host', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=1000:1000'];

export interface RunOptions {
  timeout?: number;
  reject?: boolean;
  /** Let the command print to this process's stdout and stderr (its output is then not captured). */
  inherit?: boolean;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  /** stdout and stderr interleaved. */
  all: string;
}

async function run(cmd: string, args: string[], opts: RunOptions, timeout: number): Promise<RunResult> {
  const r = await execa(cmd, args, {
    timeout: opts.timeout ?? timeout,
    reject: opts.reject ?? true,
    all: true,
    stdio: opts.inherit ? ['ignore', 'inherit', 'inherit'] : 'pipe',
  });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), all: String(r.all ?? '') };
}

export function podman(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('podman', [...PODMAN_GLOBAL, ...args], opts, 120_000);
}

export function buildah(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('buildah', args, opts, 600_000);
}

export async function imageExists(ref: string): Promise<boolean> {
  return (await podman(['image', 'exists', ref], { reject: false })).exitCode === 0;
}
