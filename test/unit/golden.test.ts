// Golden render tests of the built-in operators: what each seed example in test/golden/ renders (kubectl kustomize,
// no cluster) must equal its .out.yaml. After an intended change: npm run kustomate -- golden --update
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { goldenCases, lineDiff, renderGolden } from '../../src/render/golden.ts';
import { OPERATORS } from '../../src/operators/index.ts';
import { kubectlBinary } from '../helpers/kubectl-binary.ts';

const DIR = 'test/golden';
const cases = await goldenCases(DIR);
const cli = (args: string[]) => execa(process.execPath, ['src/cli/main.ts', ...args], { reject: false, timeout: 60_000, env: { KUSTOMATE_KUBECTL: kubectlBinary() } });

describe('golden render files of the built-in operators', () => {
  it('hold an example of every built-in operator that renders a kustomize base', async () => {
    const kinds = new Set<string>();
    for (const c of cases) kinds.add((parse(await fs.readFile(c.input, 'utf8')) as { kind: string }).kind);
    const rendering = [...OPERATORS.values()].filter((op) => op.kustomizations().length > 0).map((op) => op.resource.kind);
    expect(rendering.sort()).toEqual(['Database', 'Gordon', 'MySQL', 'Sample']);
    expect([...kinds].sort()).toEqual(rendering);
  });

  for (const { name, input, output } of cases) {
    it(`${name}.in.yaml renders exactly ${name}.out.yaml`, async () => {
      const actual = await renderGolden(input, { operators: OPERATORS.values(), kubectl: kubectlBinary() });
      expect(actual).toBe(await fs.readFile(output, 'utf8'));
    });
  }
});

describe('kustomate golden', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-golden-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('fails with a line diff when an output file no longer matches, and --update rewrites it', async () => {
    await fs.copyFile(path.join(DIR, 'sample.in.yaml'), path.join(dir, 'sample.in.yaml'));
    const good = await fs.readFile(path.join(DIR, 'sample.out.yaml'), 'utf8');
    await fs.writeFile(path.join(dir, 'sample.out.yaml'), good.replace('replicas: 2', 'replicas: 3'));

    const changed = await cli(['golden', dir]);
    expect(changed.exitCode, changed.stderr).toBe(1);
    expect(changed.stdout).toContain(`changed ${path.join(dir, 'sample.out.yaml')}`);
    expect(changed.stdout).toMatch(/^- {3}replicas: 3$/m);
    expect(changed.stdout).toMatch(/^\+ {3}replicas: 2$/m);

    const updated = await cli(['golden', dir, '--update']);
    expect(updated.exitCode, updated.stderr).toBe(0);
    expect(await fs.readFile(path.join(dir, 'sample.out.yaml'), 'utf8')).toBe(good);
    expect((await cli(['golden', dir])).exitCode).toBe(0);
  });

  it('fails for an input without its output file, and refuses a folder without inputs', async () => {
    await fs.copyFile(path.join(DIR, 'gordon.in.yaml'), path.join(dir, 'gordon.in.yaml'));
    const missing = await cli(['golden', dir]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stdout).toContain(`missing ${path.join(dir, 'gordon.out.yaml')}`);
    const empty = await fs.mkdtemp(path.join(dir, 'empty-'));
    const none = await cli(['golden', empty]);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('holds no NAME.in.yaml file');
  });
});

describe('lineDiff', () => {
  it('shows removed and added lines with their context, and nothing for equal texts', () => {
    expect(lineDiff('a\nb\nc', 'a\nb\nc')).toBe('');
    expect(lineDiff('a\nb\nc\nd\ne\nf\ng\nh', 'a\nb\nc\nd\nE\nf\ng\nh', 1)).toBe('@@ -4 +4 @@\n  d\n- e\n+ E\n  f');
    expect(lineDiff('x', 'x\ny')).toBe('@@ -1 +1 @@\n  x\n+ y');
  });
});
