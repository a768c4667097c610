// Why: bundles are checked against OLM's real schema: its CRDs (../shared/olm/, from operator-framework/api) on the local control plane.
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { getJson, k } from './helpers.ts';

/** OLM's CRDs, beside this checkout (KUSTOMATE_OLM_CRDS moves them); they are read, never copied into the project. */
export const OLM_CRDS = process.env.KUSTOMATE_OLM_CRDS ?? path.resolve('..', 'shared', 'olm');

/** Installs OLM's CRDs (server-side: the CSV CRD is too big for the last-applied annotation) and waits until they serve. */
export async function installOlmCrds(): Promise<void> {
  const files = (await fs.readdir(OLM_CRDS).catch(() => [])).filter((f) => f.endsWith('.yaml'));
  if (!files.includes('operators.coreos.com_clusterserviceversions.yaml')) {
    throw new Error(`OLM's CRDs are not in ${OLM_CRDS} (set KUSTOMATE_OLM_CRDS to the folder of operator-framework/api's crds/)`);
  }
  await k(['apply', '--server-side', '--force-conflicts', ...files.flatMap((f) => ['-f', path.join(OLM_CRDS, f)])], { timeoutMs: 120_000 });
  await k(['wait', '--for=condition=Established', 'crd/clusterserviceversions.operators.coreos.com', 'crd/operatorgroups.operators.coreos.com', '--timeout=60s']);
}

/** The paths of `sent` that `stored` does not hold with the same value (the API server may add defaults, never drop). */
export function missingIn(stored: unknown, sent: unknown, at: string): string[] {
  if (sent !== null && typeof sent === 'object') {
    if (stored === null || typeof stored !== 'object' || Array.isArray(sent) !== Array.isArray(stored)) return [at];
    if (Array.isArray(sent) && sent.length !== (stored as unknown[]).length) return [at];
    return Object.entries(sent).flatMap(([key, value]) => missingIn((stored as Record<string, unknown>)[key], value, `${at}.${key}`));
  }
  return stored === sent ? [] : [at];
}

/** Removes OLM's CRDs again (and every object of theirs), so the shared control plane is left as it was. */
export async function uninstallOlmCrds(): Promise<void> {
  const files = (await fs.readdir(OLM_CRDS).catch(() => [])).filter((f) => f.endsWith('.yaml'));
  await k(['delete', '--ignore-not-found', '--timeout=120s', ...files.flatMap((f) => ['-f', path.join(OLM_CRDS, f)])], { reject: false, timeoutMs: 130_000 });
}

/**
 * Applies a bundle's manifests as OLM would find them, with the API server's strict field validation: the CSV for real
 * (in `namespace`), then read back (everything sent is stored: a field the schema does not know is refused, not dropped); the CRDs and
 * other objects as server-side dry runs. Returns the CSV as stored.
 */
export async function applyBundle(bundleDir: string, namespace: string): Promise<any> {
  const dir = path.join(bundleDir, 'manifests');
  let csv: any;
  for (const file of (await fs.readdir(dir)).sort()) {
    const obj = parse(await fs.readFile(path.join(dir, file), 'utf8'));
    const isCsv = obj.kind === 'ClusterServiceVersion';
    await k(['apply', '--server-side', '--validate=strict', '--field-manager=bundle-test', ...(isCsv ? [] : ['--dry-run=server']), '-n', namespace, '-f', path.join(dir, file)]);
    if (isCsv) {
      const stored = await getJson(['clusterserviceversion', obj.metadata.name, '-n', namespace]);
      const lost = missingIn(stored.spec, obj.spec, 'spec');
      if (lost.length) throw new Error(`the stored CSV ${obj.metadata.name} lost what ${file} holds: ${lost.slice(0, 5).join(', ')}`);
      csv = stored;
    }
  }
  return csv;
}
