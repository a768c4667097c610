// Why: `npm test`, the one test command (README, .ci/run): type-check, dependency directions, build the control
// plane, run every suite.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildCluster } from '../lab/cluster/build.ts';
import { CACHE_DIR } from '../lab/cluster/versions.ts';

const step = (name: string) => console.log(`\n== ${name}`);
const bin = (name: string) => path.resolve('node_modules/.bin', name);

step('type-check (tsc --noEmit)');
await execa(bin('tsc'), ['-p', 'tsconfig.json'], { stdio: 'inherit', timeout: 300_000 });

step('dependency directions (dependency-cruiser, .dependency-cruiser.cjs)');
await execa(bin('depcruise'), ['src', '--config', '.dependency-cruiser.cjs'], { stdio: 'inherit', timeout: 120_000 });

step('control plane binaries (lab/cluster)');
await buildCluster();

step('unit and end-to-end tests (vitest)');
const report = path.join(CACHE_DIR, 'vitest-report.json');
await fs.mkdir(CACHE_DIR, { recursive: true });
const args = ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const vitest = await execa(bin('vitest'), args, { stdio: 'inherit', reject: false, timeout: 80 * 60_000 });

try {
  const r = JSON.parse(await fs.readFile(report, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number };
  // The plain closing line CI reads: 'N passed, N failed'.
  console.log(`\ntests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
} catch {
  console.log('\ntests: no report was written');
}
process.exitCode = vitest.exitCode ?? 1;
