// Why: `npm start`, the README's first command: a cluster (yours, or the local one), the CRDs, the operator,
// and the lab's Sample applied with its status shown. The operator then keeps running until Ctrl-C.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clusterUp } from '../lab/cluster/cluster.ts';
import { binPath } from '../lab/cluster/versions.ts';
import { runningDatabaseUrl } from '../lab/postgres/postgres.ts';
import { OPERATORS } from '../src/operators/index.ts';
import { NODE_FLAGS } from '../src/cli/node-flags.ts';

const once = process.argv.includes('--once');
const say = (line: string) => console.log(`[start] ${line}`);

// A configured cluster wins; with none, the embedded local control plane is started (or reused).
const userKubeconfig = process.env.KUBECONFIG || (fs.existsSync(path.join(os.homedir(), '.kube', 'config')) ? path.join(os.homedir(), '.kube', 'config') : '');
let kubeconfig = userKubeconfig;
let kubectlBin = process.env.KUSTOMATE_KUBECTL ?? 'kubectl';
if (userKubeconfig) {
  say(`using the cluster configured in ${userKubeconfig}`);
} else {
  say('no cluster configured: starting the local control plane (the first build takes a while)');
  kubeconfig = (await clusterUp((l) => say(l))).kubeconfig;
  kubectlBin = process.env.KUSTOMATE_KUBECTL ?? binPath('kubectl');
}
const env = { KUBECONFIG: kubeconfig, KUSTOMATE_KUBECTL: kubectlBin };
const kubectl = (args: string[]) => execa(kubectlBin, args, { env, timeout: 120_000, stdout: 'inherit', stderr: 'inherit' });

say('installing the CRDs (crds/)');
await kubectl(['apply', '--server-side', '--force-conflicts', '-f', 'crds/']);
await kubectl(['wait', '--for=condition=Established', 'crd', 'samples.nuvolaris.org', 'databases.zalando.org', 'gordons.operator.prgcont.cz', 'mysqls.otus.homework', 'databasetables.kopf.demo', '--timeout=60s']);

// The DatabaseTable operator needs PostgreSQL: DATABASE_URL, or the local server when it runs.
const databaseUrl = process.env.DATABASE_URL || (await runningDatabaseUrl());
const names = databaseUrl ? [] : [...OPERATORS.keys()].filter((name) => name !== 'databasetable');
if (databaseUrl) say(`the DatabaseTable operator uses ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'the local PostgreSQL (npm run postgres:up)'}`);
else say('no PostgreSQL, so no DatabaseTable operator: run npm run postgres:up (or set DATABASE_URL), then npm start again');
say(`starting the operator: kustomate run ${names.join(' ')}`.trimEnd());
const operator = execa(process.execPath, [...NODE_FLAGS, path.resolve('src/cli/main.ts'), 'run', ...names], {
  env: { ...env, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) },
  stdout: 'pipe',
  stderr: 'inherit',
  reject: false,
});
// Its output goes on to ours; the line that says it started tells --once when stopping it is safe.
let heard = '';
const started = new Promise<void>((resolve) =>
  operator.stdout?.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (!heard.includes('operator started')) heard = (heard + chunk.toString()).slice(-4096);
    if (heard.includes('operator started')) resolve();
  }),
);
// Kept installed (not once): execa's exit hook would otherwise re-raise the signal and end us at once.
const stop = () => operator.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

say('applying the lab Sample: lab/demo-ns.yaml, lab/demo-obj.yaml');
await kubectl(['apply', '-f', 'lab/demo-ns.yaml', '-f', 'lab/demo-obj.yaml']);
const waited = await execa(kubectlBin, ['-n', 'demo', 'wait', '--for=condition=Ready', 'sample/obj', '--timeout=120s'], { env, reject: false, timeout: 130_000 });
say(waited.exitCode === 0 ? 'the Sample is Ready:' : `the Sample is not Ready yet: ${waited.stderr}`);
await kubectl(['-n', 'demo', 'get', 'sample,deployments,pods']);
say(`the operator keeps running; in another terminal: export KUBECONFIG=${kubeconfig}; kubectl -n demo get sam`);

// --once (for tests): stop, but only once the operator has started; the Sample may have been Ready before it did.
if (once) await Promise.race([started, operator]).then(stop);
const result = await operator;
process.off('SIGINT', stop);
process.off('SIGTERM', stop);
process.exitCode = waited.exitCode !== 0 ? 1 : (result.exitCode ?? 1);
