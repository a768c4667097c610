// kustomate bundle of the built-in operators, checked both ways: by the bundle format rules (the command itself), and
// by OLM's real schema, its CRDs from ../shared/olm/ installed on the local control plane.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createNamespace, deleteNamespace, k, KUBECTL, kubeconfig } from './helpers.ts';
import { applyBundle, installOlmCrds, uninstallOlmCrds } from './olm.ts';

describe('kustomate bundle on a cluster with OLM\'s CRDs', () => {
  let tmp: string;
  let ns: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-e2e-bundle-'));
    await installOlmCrds();
    ns = await createNamespace('e2e-bundle');
  });
  afterAll(async () => {
    await deleteNamespace(ns);
    await uninstallOlmCrds();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('bundles the built-in operators: the format rules pass, and OLM\'s schema takes the CSV and every manifest as written', async () => {
    const out = path.join(tmp, 'bundle');
    const r = await execa(process.execPath, ['src/cli/main.ts', 'bundle', '--version', '0.1.0', '--channel', 'alpha', '--out', out], {
      reject: false,
      timeout: 120_000,
      env: { KUSTOMATE_KUBECTL: KUBECTL, KUBECONFIG: kubeconfig() },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('bundle checks passed');
    const csv = await applyBundle(out, ns);
    expect(csv.metadata.name).toBe('kustomate.v0.1.0');
    expect(csv.spec.install.spec.deployments.map((d: { name: string }) => d.name)).toEqual(['kustomate']);
    expect(csv.spec.customresourcedefinitions.owned.map((o: { kind: string }) => o.kind).sort()).toEqual(['Database', 'DatabaseTable', 'Gordon', 'MySQL', 'Sample']);
  });

  it('is a real check: OLM\'s schema refuses a CSV with a field it does not declare, or a value of the wrong type', async () => {
    const out = path.join(tmp, 'bundle');
    const csv = parse(await fs.readFile(path.join(out, 'manifests', 'kustomate.clusterserviceversion.yaml'), 'utf8'));
    const unknown = structuredClone(csv);
    unknown.metadata.name = 'unknown.v0.1.0';
    unknown.spec.install.spec.deployments[0].replicaCount = 2;
    const wrongType = structuredClone(csv);
    wrongType.metadata.name = 'wrong-type.v0.1.0';
    // JSON, not YAML: kubectl would read a YAML `yes` as a boolean.
    wrongType.spec.installModes[0].supported = 'yes';
    for (const [bad, message] of [
      [unknown, /replicaCount: field not declared in schema/],
      [wrongType, /installModes\[0\]\.supported: expected boolean, got &\{yes\}/],
    ] as const) {
      const r = await k(['apply', '--server-side', '--validate=strict', '-n', ns, '-f', '-'], { input: JSON.stringify(bad), reject: false });
      expect(r.exitCode, r.stdout).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }
  });
});
