// Why: tests use the kubectl built by lab/cluster when it is there (client = server version), else the one on PATH.
import fs from 'node:fs';
import { binPath } from '../../lab/cluster/versions.ts';

export function kubectlBinary(): string {
  const built = binPath('kubectl');
  return fs.existsSync(built) ? built : 'kubectl';
}
