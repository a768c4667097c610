// Why: `kustomate render`: show exactly the work dirs the operator would apply for a custom resource, offline.
import type { Operator } from '../operator/operator.ts';
import { OPERATORS, loadOperatorModule } from '../operators/index.ts';
import { createKubectlRunner } from '../kubectl/runner.ts';
import { planRender, readCustomResource, renderPlanned, renderedText } from '../render/render.ts';

export { readCustomResource };

export interface RenderFlags {
  file: string;
  out?: string;
  namespace?: string;
  kubectl: string;
  bases: string;
  operator?: string[];
}

/** The operators a command works with: those the modules export, else the examples. */
export async function candidates(modules: string[] | undefined): Promise<Operator<any>[]> {
  if (!modules?.length) return [...OPERATORS.values()];
  return (await Promise.all(modules.map(loadOperatorModule))).flat();
}

/**
 * Writes one work dir per kustomize spec (kept), prints `kubectl kustomize DIR` for each on stdout and each folder on
 * stderr. With `--out DIR`, a single spec is written into DIR, several into DIR/<id>/.
 */
export async function renderCommand(flags: RenderFlags): Promise<number> {
  const obj = await readCustomResource(flags.file);
  const plan = planRender(await candidates(flags.operator), obj, { namespace: flags.namespace, source: flags.file });
  if (!plan.owner.uid) process.stderr.write('note: the file has no metadata.uid, so ownerReferences are left out; the operator adds them\n');
  const specs = await renderPlanned({ kubectl: createKubectlRunner({ binary: flags.kubectl }), basesDir: flags.bases }, plan, { keep: true, out: flags.out });
  for (const s of specs) process.stderr.write(`work dir${plan.specs.length > 1 ? ` (${s.id})` : ''}: ${s.dir}\n`);
  const failed = specs.find((s) => s.exitCode !== 0);
  if (failed) {
    process.stderr.write(`${failed.stderr}\n`);
    return failed.exitCode > 0 ? failed.exitCode : 1;
  }
  process.stdout.write(renderedText(specs));
  return 0;
}
