// Why: golden render tests: what an operator renders for example custom resources, compared with files kept in git.
import fs from 'node:fs/promises';
import path from 'node:path';
import { createKubectlRunner, type KubectlRunner } from '../kubectl/runner.ts';
import { DEFAULT_BASES_DIR } from '../kustomize/bases.ts';
import type { Operator } from '../operator/operator.ts';
import { planRender, readCustomResource, renderPlanned, renderedText } from './render.ts';

const IN = '.in.yaml';
const OUT = '.out.yaml';

/** One golden file pair: DIR/NAME.in.yaml (a custom resource) and DIR/NAME.out.yaml (what it renders). */
export interface GoldenCase {
  name: string;
  input: string;
  output: string;
}

export interface GoldenResult extends GoldenCase {
  /** same: the output file matches; changed or missing: it does not, or is not there; updated: it was (re)written. */
  status: 'same' | 'changed' | 'missing' | 'updated';
  actual: string;
  /** The output file's text, when there was one. */
  expected?: string | undefined;
}

export interface GoldenOptions {
  /** The operators that handle the inputs (each input's apiVersion and kind pick one). */
  operators: Iterable<Operator<any>>;
  /** The kubectl binary (default $KUSTOMATE_KUBECTL, else `kubectl` on PATH) or a runner. */
  kubectl?: string | KubectlRunner;
  /** Bases of operators that name no basesDir of their own (default: the package's kustomize/). */
  basesDir?: string;
  /** Rewrite every output file with what renders now. */
  update?: boolean;
}

/** The golden pairs in a folder, by name: every NAME.in.yaml, with the NAME.out.yaml beside it (which may be missing). */
export async function goldenCases(dir: string): Promise<GoldenCase[]> {
  const names = (await fs.readdir(dir)).filter((f) => f.endsWith(IN)).sort();
  return names.map((f) => {
    const name = f.slice(0, -IN.length);
    return { name, input: path.join(dir, f), output: path.join(dir, name + OUT) };
  });
}

const runnerOf = (kubectl: GoldenOptions['kubectl']): KubectlRunner =>
  typeof kubectl === 'function' ? kubectl : createKubectlRunner({ binary: kubectl ?? process.env.KUSTOMATE_KUBECTL ?? 'kubectl' });

/** What one input renders, as `kustomate render` prints it. A spec kubectl cannot build fails with its error. */
export async function renderGolden(input: string, opts: GoldenOptions): Promise<string> {
  const obj = await readCustomResource(input);
  const plan = planRender(opts.operators, obj, { source: input });
  const specs = await renderPlanned({ kubectl: runnerOf(opts.kubectl), basesDir: opts.basesDir ?? DEFAULT_BASES_DIR }, plan);
  const failed = specs.find((s) => s.exitCode !== 0);
  if (failed) throw new Error(`${input}: kubectl kustomize failed for ${failed.id}: ${failed.stderr}`);
  return renderedText(specs);
}

/** Renders every pair's input and compares it with its output file; with `update`, writes the output files instead. */
export async function checkGolden(dir: string, opts: GoldenOptions): Promise<GoldenResult[]> {
  const cases = await goldenCases(dir);
  const results: GoldenResult[] = [];
  for (const c of cases) {
    const actual = await renderGolden(c.input, opts);
    const expected = await fs.readFile(c.output, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (opts.update) {
      if (expected !== actual) await fs.writeFile(c.output, actual);
      results.push({ ...c, status: expected === actual ? 'same' : 'updated', actual, expected });
    } else {
      results.push({ ...c, status: expected === undefined ? 'missing' : expected === actual ? 'same' : 'changed', actual, expected });
    }
  }
  return results;
}

/**
 * A line diff of two texts: `-` lines only in `from`, `+` lines only in `to`, with `context` unchanged lines
 * around each change and `@@ -LINE +LINE @@` before each hunk. Empty when they are equal.
 */
export function lineDiff(from: string, to: string, context = 3): string {
  const a = from.split('\n');
  const b = to.split('\n');
  // Longest common subsequence table, from the end: lcs[i][j] for a[i..], b[j..].
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const ops: Array<{ op: ' ' | '-' | '+'; line: string; ai: number; bi: number }> = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push({ op: ' ', line: a[i]!, ai: i++, bi: j++ });
    else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ op: '-', line: a[i]!, ai: i++, bi: j });
    else ops.push({ op: '+', line: b[j]!, ai: i, bi: j++ });
  }
  const keep = ops.map((o, k) => o.op !== ' ' || ops.slice(Math.max(0, k - context), k + context + 1).some((n) => n.op !== ' '));
  const out: string[] = [];
  for (let k = 0; k < ops.length; k++) {
    if (!keep[k]) continue;
    if (k === 0 || !keep[k - 1]) out.push(`@@ -${ops[k]!.ai + 1} +${ops[k]!.bi + 1} @@`);
    out.push(`${ops[k]!.op} ${ops[k]!.line}`);
  }
  return out.join('\n');
}
