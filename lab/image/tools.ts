// Why: image builds need podman, buildah, runc, mmdebstrap and uidmap: installed on Debian as root, else named.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { podman } from './podman.ts';

/** Each command, and the Debian package it comes from. */
export const IMAGE_TOOLS: ReadonlyArray<{ bin: string; pkg: string }> = [
  { bin: 'podman', pkg: 'podman' },
  { bin: 'buildah', pkg: 'buildah' },
  { bin: 'runc', pkg: 'runc' },
  { bin: 'mmdebstrap', pkg: 'mmdebstrap' },
  { bin: 'newuidmap', pkg: 'uidmap' },
];

/** The path of a command on PATH (plus the sbin folders, where Debian puts runc), or undefined. */
export async function which(bin: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const file = path.join(dir, bin);
    if (await fs.access(file, fs.constants.X_OK).then(() => true, () => false)) return file;
  }
  return undefined;
}

/** Tools are missing, and this machine cannot install them (not root, or not Debian). */
export class MissingToolsError extends Error {
  override name = 'MissingToolsError';
}

/**
 * Installs the missing tools (Debian, as root), or throws a MissingToolsError naming them; what is there is reused
 * as it is. A failed installation throws its own error.
 */
export async function ensureImageTools(log: (line: string) => void = console.log): Promise<void> {
  const missing: string[] = [];
  for (const tool of IMAGE_TOOLS) if (!(await which(tool.bin))) missing.push(tool.pkg);
  if (missing.length === 0) return;
  const apt = await which('apt-get');
  if (process.getuid?.() !== 0 || !apt) {
    throw new MissingToolsError(`image builds need the packages ${missing.join(', ')}: install them (as root on Debian, npm run image does it)`);
  }
  log(`installing ${missing.join(', ')} from Debian's packages`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  // Another apt run (unattended upgrades) may hold the lock for a while: wait for it rather than fail.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  await execa(apt, [...lock, 'update', '-qq'], { env, timeout: 600_000, stdio: ['ignore', 'inherit', 'inherit'] });
  await execa(apt, [...lock, 'install', '-y', '-qq', '--no-install-recommends', ...missing], { env, timeout: 900_000, stdio: ['ignore', 'inherit', 'inherit'] });
}

/**
 * Why containers cannot run on this machine, or undefined when podman works (installed first where it can be). An
 * installation that fails where it should work (as root on Debian) throws: that is no reason to skip.
 */
export async function whyPodmanCannotRun(): Promise<string | undefined> {
  try {
    await ensureImageTools((line) => process.stderr.write(`[image] ${line}\n`));
  } catch (err) {
    if (err instanceof MissingToolsError) return err.message;
    throw err;
  }
  const info = await podman(['info', '--format', '{{.Host.OCIRuntime.Name}}'], { reject: false });
  if (info.exitCode !== 0) return `podman info failed: ${info.all.trim().split('\n').at(-1)}`;
  return undefined;
}
