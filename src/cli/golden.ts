// Why: `kustomate golden`: check (or rewrite, with --update) the golden render files of an operator from the command line.
import fs from 'node:fs/promises';
import { createKubectlRunner } from '../kubectl/runner.ts';
import { checkGolden, lineDiff } from '../render/golden.ts';
import { InputError } from '../render/render.ts';
import { candidates } from './render.ts';

export interface GoldenFlags {
  operator?: string[];
  update?: boolean;
  kubectl: string;
  bases: string;
}

/** 0 when every NAME.out.yaml matches what NAME.in.yaml renders (or, with --update, once they are rewritten); 1 when one does not. */
export async function goldenCommand(dir: string, flags: GoldenFlags): Promise<number> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new InputError(`${dir} is not a folder of NAME.in.yaml files`);
  const results = await checkGolden(dir, {
    operators: await candidates(flags.operator),
    kubectl: createKubectlRunner({ binary: flags.kubectl }),
    basesDir: flags.bases,
    update: flags.update ?? false,
  });
  if (results.length === 0) throw new InputError(`${dir} holds no NAME.in.yaml file`);
  let failed = 0;
  for (const r of results) {
    process.stdout.write(`${r.status.padEnd(7)} ${r.output}\n`);
    if (r.status === 'changed') process.stdout.write(`${lineDiff(r.expected ?? '', r.actual)}\n`);
    if (r.status === 'changed' || r.status === 'missing') failed++;
  }
  if (failed) process.stderr.write(`kustomate: ${failed} golden file(s) differ from what renders now; if the change is intended, run again with --update\n`);
  return failed ? 1 : 0;
}
