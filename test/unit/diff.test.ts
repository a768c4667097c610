// kustomate diff's failures never look like "changes" (exit code 1): bad input and an unreachable cluster exit 2 or more.
// (What it shows on a live cluster: test/e2e/scaffold.test.ts.)
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { kubectlBinary } from '../helpers/kubectl-binary.ts';

const cli = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, ['src/cli/main.ts', ...args], { reject: false, timeout: 60_000, env: { KUSTOMATE_KUBECTL: kubectlBinary(), HOME: '/nonexistent', KUBECONFIG: '', ...env } });

describe('kustomate diff', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-test-diff-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('refuses a bad custom resource with exit code 2, before looking for a cluster', async () => {
    const bad = path.join(dir, 'bad.yaml');
    await fs.writeFile(bad, stringify({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', metadata: { name: 'x' }, spec: { count: -1 } }));
    const r = await cli(['diff', '-f', bad]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('spec.count must be a whole number ≥ 0, got -1');
  });

  it('exits 2 without a kubeconfig, and 2 or more when the cluster cannot be reached', async () => {
    const none = await cli(['diff', '-f', 'lab/demo-obj.yaml']);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('no kubeconfig found');

    const kubeconfig = path.join(dir, 'kubeconfig');
    await fs.writeFile(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 'x' } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    const unreachable = await cli(['diff', '-f', 'lab/demo-obj.yaml', '--kubeconfig', kubeconfig, '--kubectl-timeout', '20']);
    expect(unreachable.exitCode).toBeGreaterThanOrEqual(2);
    expect(unreachable.stderr).toMatch(/cannot read Sample demo\/obj: .*(connection refused|127\.0\.0\.1:1)/);
  });
});
