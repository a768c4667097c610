// Why: `kustomate new`: a standalone operator project, ready for `npm test`, from a name, a group and a kind.
import path from 'node:path';
import { createProject } from '../scaffold/project.ts';

export interface NewFlags {
  group: string;
  kind: string;
  version: string;
  plural?: string;
  dir?: string;
  force?: boolean;
  kustomate?: string;
  install: boolean;
  kubectl: string;
}

export async function newCommand(name: string, flags: NewFlags): Promise<number> {
  const dir = flags.dir ?? name;
  const log = (line: string) => process.stderr.write(`kustomate new: ${line}\n`);
  const project = await createProject(
    { name, group: flags.group, kind: flags.kind, version: flags.version, plural: flags.plural },
    { dir, force: flags.force ?? false, kustomate: flags.kustomate, install: flags.install, kubectl: flags.kubectl, log },
  );
  const relative = path.relative(process.cwd(), project.dir) || '.';
  const rel = relative.startsWith('..') ? project.dir : relative;
  process.stdout.write(`created ${project.names.kind} (${project.names.group}/${project.names.version}) operator ${project.names.name} in ${rel}:\n`);
  for (const f of project.files) process.stdout.write(`  ${f}\n`);
  process.stdout.write(`next:\n  cd ${rel}\n${project.installed ? '' : '  npm install && npm run golden -- --update\n'}  npm test          # needs a cluster: KUBECONFIG, and KUSTOMATE_KUBECTL or kubectl on PATH\n  npm start         # after kubectl apply -f crds/\n`);
  return 0;
}
