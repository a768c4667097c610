// Why: the `kustomate` command line: `run` operators, `render` and `diff` what one would apply, `golden` render tests,
// `new` operator projects and OLM `bundle`s.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConnectionError } from '../kube/config.ts';
import { OPERATORS, UnknownOperatorError } from '../operators/index.ts';
import { DEFAULT_BASES_DIR } from '../kustomize/bases.ts';
import { DEFAULT_BATCH, DEFAULT_CONCURRENCY, DEFAULT_PROCESSES, SHARE_AT_LEAST, UNBATCHED_CONCURRENCY, WINDOWS_AT_MOST } from '../kustomize/batch.ts';
import { InputError } from '../render/render.ts';
import { bundleCommand } from './bundle.ts';
import { DiffError, diffCommand } from './diff.ts';
import { goldenCommand } from './golden.ts';
import { newCommand } from './new.ts';
import { renderCommand } from './render.ts';
import { UsageError, runCommand } from './run.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return n;
}

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number ≥ 0');
  return n;
}

function port(value: string): number {
  const n = wholeNumber(value);
  if (n > 65535) throw new InvalidArgumentError('must be a port number, 0 to 65535');
  return n;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

const kubectlOption = () =>
  new Option('--kubectl <path>', 'kubectl binary to run').env('KUSTOMATE_KUBECTL').default('kubectl');
const basesOption = () =>
  new Option('--bases <dir>', 'folder holding the kustomize bases, one subfolder per base (an operator that names its own basesDir keeps it)').env('KUSTOMATE_BASES').default(DEFAULT_BASES_DIR);

const program = new Command('kustomate')
  .description('Kubernetes operators the Nuvolaris way: a custom resource becomes a kustomize patch, applied with kubectl apply -k.')
  .showHelpAfterError()
  // A missing or bad flag is bad input, exit code 2, as for every other usage error (commander's own would be 1).
  .exitOverride();

program
  .command('run')
  .description(`run operators against the current cluster: the examples by name (known: ${[...OPERATORS.keys()].join(', ')}; all by default), or the operators a module exports (a path such as ./my-operator.ts)`)
  .argument('[operator...]', 'example operator names or module paths')
  .addOption(
    new Option('-n, --namespace <ns>', 'watch this namespace; repeat for more; a glob (team-*) or an exclusion (!kube-*) watches cluster-wide and filters; default: all namespaces').argParser(collect),
  )
  .option('-A, --all-namespaces', 'watch all namespaces (the default when no --namespace is given)')
  .addOption(new Option('--concurrency <n>', `objects reconciled at once (their kubectl runs are shared when they meet: see --batch-window; one waiting for a shared run lets another start, up to --batch-max of them); default: ${DEFAULT_CONCURRENCY}, or ${UNBATCHED_CONCURRENCY} with --no-batch`).argParser(positiveInt))
  .addOption(new Option('--kubeconfig <file>', 'kubeconfig file (else $KUBECONFIG, ~/.kube/config, or the in-cluster service account)'))
  .addOption(new Option('--context <name>', 'kubeconfig context (else the current one)').env('KUSTOMATE_CONTEXT'))
  .addOption(kubectlOption())
  .addOption(new Option('--kubectl-timeout <seconds>', 'kill a kubectl run after this long').argParser(positiveInt).default(120))
  .addOption(new Option('--batch-window <ms>', `how long a batch waits for another work dir to share its kubectl kustomize and kubectl apply -k (a burst): each one that joins starts it again, up to ${WINDOWS_AT_MOST} windows in all; no wait when every running reconcile is waiting already`).argParser(wholeNumber).default(DEFAULT_BATCH.windowMs))
  .addOption(new Option('--batch-max <n>', 'the most work dirs one batch takes (its kubectl processes share them: see --batch-processes), and the most objects waiting for one while others start in their place').argParser(positiveInt).default(DEFAULT_BATCH.max))
  .addOption(new Option('--batch-processes <n>', `the most kubectl processes a batch runs at once, each on its share of the work dirs (at least ${SHARE_AT_LEAST} each, so a smaller batch runs in one), for renders and for applies each; ignored with --no-batch; default: one per CPU core, up to 4 (${DEFAULT_PROCESSES} here)`).argParser(positiveInt))
  .option('--no-batch', 'one kubectl process per work dir, never shared')
  .addOption(basesOption())
  .option('--keep-workdirs', 'keep each reconcile\'s temporary kustomize folder, for debugging')
  .addOption(new Option('--relist-interval <seconds>', 'relist everything this often, as a safety net; unchanged objects are not re-applied; 0 turns it off').argParser(wholeNumber).default(600))
  .option('--leader-election', 'only the holder of a coordination.k8s.io Lease reconciles, so several replicas are safe')
  .option('--leader-election-namespace <ns>', 'namespace of the Lease (default: the pod\'s namespace, else "default")')
  .option('--leader-election-id <name>', 'name of the Lease (default: kustomate-<operators>)')
  .addOption(new Option('--shard-key <value>', 'reconcile only custom resources labelled kustomate.io/shard=<value>, with a Lease of its own; an empty value (--shard-key=) takes only those without the label; default: every object').env('KUSTOMATE_SHARD_KEY'))
  .addOption(new Option('--lease-duration <seconds>', 'how long a Lease lasts without renewal; a standby takes over after it').argParser(positiveInt).default(15))
  .addOption(new Option('--health-port <port>', 'port for /healthz, /readyz and /metrics; 0 picks a free one (logged)').argParser(port).env('KUSTOMATE_HEALTH_PORT').default(8080))
  .option('--health-host <address>', 'address the health server binds to (0.0.0.0 in a pod)', '127.0.0.1')
  .addOption(new Option('--log-format <format>', 'json lines or pretty (default: pretty in a terminal, else json)').choices(['json', 'pretty']))
  .addOption(new Option('--grace-period <seconds>', 'on SIGTERM, how long running kubectl commands may finish before they are cancelled').argParser(wholeNumber).default(30))
  .addOption(new Option('--drift <mode>', 'a child deleted or changed by hand: correct (re-apply it), warn (a Drifted condition and Event only) or ignore; default: each operator\'s own, else correct').choices(['correct', 'warn', 'ignore']))
  .addOption(new Option('--health-timeout <seconds>', 'how long children may take to become healthy after an apply before Ready says HealthCheckFailed; default: each operator\'s own, else 300').argParser(positiveInt))
  .addOption(new Option('--allowed-images <repos>', 'repositories (docker.io/library/mysql) or prefixes ending in / (quay.io/) a Database\'s or a MySQL\'s spec.image may come from, comma-separated; default: the seed images\' docker.io/library/mongo,docker.io/library/mysql').env('KUSTOMATE_ALLOWED_IMAGES'))
  .addOption(new Option('--database-url <url>', 'PostgreSQL for DatabaseTables without spec.connectionSecretRef: postgresql://user:password@host:port/database').env('DATABASE_URL'))
  .action(async (names: string[], flags) => runCommand(names, flags));

program
  .command('render')
  .description('write the work dir(s) the operator would apply for a custom resource, and print `kubectl kustomize DIR` (no cluster needed)')
  .requiredOption('-f, --file <CR.yaml>', 'custom resource file (one document)')
  .addOption(new Option('--operator <module>', 'take the operator from this module (its exported Operators) instead of the examples; repeatable').argParser(collect))
  .option('--out <dir>', 'write the work dir here (empty or absent; DIR/<id>/ for each of several kustomize specs) instead of a new temporary folder; it is kept either way')
  .option('-n, --namespace <ns>', 'namespace when the file names none', 'default')
  .addOption(kubectlOption())
  .addOption(basesOption())
  .action(async (flags) => {
    process.exitCode = await renderCommand(flags);
  });

program
  .command('diff')
  .description('what applying a custom resource would change on the live cluster: kubectl diff -k on the work dir(s) it renders (server-side, as kustomate applies); exit code 0 no change, 1 changes, 2 or more an error')
  .requiredOption('-f, --file <CR.yaml>', 'custom resource file (one document)')
  .addOption(new Option('--operator <module>', 'take the operator from this module (its exported Operators) instead of the examples; repeatable').argParser(collect))
  .option('-n, --namespace <ns>', 'namespace when the file names none', 'default')
  .addOption(new Option('--kubeconfig <file>', 'kubeconfig file (else $KUBECONFIG, ~/.kube/config, or the in-cluster service account)'))
  .addOption(new Option('--context <name>', 'kubeconfig context (else the current one)').env('KUSTOMATE_CONTEXT'))
  .addOption(kubectlOption())
  .addOption(new Option('--kubectl-timeout <seconds>', 'kill a kubectl run after this long').argParser(positiveInt).default(120))
  .addOption(basesOption())
  .action(async (flags) => {
    process.exitCode = await diffCommand(flags);
  });

program
  .command('golden')
  .description('golden render tests: compare what each DIR/NAME.in.yaml renders (kubectl kustomize, no cluster) with DIR/NAME.out.yaml; exit code 1 when one differs; --update rewrites them')
  .argument('[dir]', 'folder of NAME.in.yaml and NAME.out.yaml files', 'test/golden')
  .addOption(new Option('--operator <module>', 'take the operator from this module (its exported Operators) instead of the examples; repeatable').argParser(collect))
  .option('--update', 'write every NAME.out.yaml from what renders now')
  .addOption(kubectlOption())
  .addOption(basesOption())
  .action(async (dir: string, flags) => {
    process.exitCode = await goldenCommand(dir, flags);
  });

program
  .command('new')
  .description('write a standalone operator project into DIR (default ./NAME): a typed operator, its CRD, a kustomize base, least-privilege install RBAC, a Dockerfile, unit, golden and end-to-end tests; then npm install and write the golden files')
  .argument('<name>', 'the operator\'s name: a lower-case DNS label, such as my-operator')
  .requiredOption('--group <group>', 'API group of the custom resource: a DNS name with a dot, such as example.com')
  .requiredOption('--kind <Kind>', 'kind of the custom resource, CamelCase, such as Website')
  .option('--version <version>', 'API version', 'v1')
  .option('--plural <plural>', 'the resource\'s plural (default: the kind in lower case, pluralized)')
  .option('--dir <dir>', 'where to write the project (default: ./NAME); it must be empty or absent')
  .option('--force', 'write into a DIR that is not empty (files of the same names are overwritten)')
  .option('--kustomate <spec>', 'the kustomate dependency: a .tgz from npm pack (copied into vendor/), or an npm version or spec; default: this kustomate, packed into vendor/')
  .option('--no-install', 'only write the files: no npm install, no golden output files')
  .addOption(kubectlOption())
  .action(async (name: string, flags) => {
    process.exitCode = await newCommand(name, flags);
  });

program
  .command('bundle')
  .description('write an Operator Lifecycle Manager bundle (manifests/ with the ClusterServiceVersion and CRDs, metadata/annotations.yaml, bundle.Dockerfile) and check it against the bundle format rules; exit code 1 when a check fails')
  .requiredOption('--version <semver>', 'the bundle\'s version, such as 0.1.0')
  .option('--channel <channels>', 'channels, comma-separated', 'alpha')
  .option('--default-channel <channel>', 'default channel (default: the first of --channel)')
  .addOption(new Option('--operator <module>', 'bundle the operators this module exports (a project from kustomate new) instead of the built-in ones; repeatable').argParser(collect))
  .option('--crds <dir>', 'folder of the CRD files (default: crds/ of the project, or of kustomate)')
  .option('--install <dir>', 'the install kustomization: its Deployment and RBAC (default: deploy/ of the project, or kustomize/kustomate/)')
  .addOption(new Option('--examples <path>', 'example custom resources for alm-examples, files or folders; repeatable (default: examples/ of the project, or lab/)').argParser(collect))
  .option('--package <name>', 'the OLM package name (default: the project\'s package.json name, or kustomate)')
  .option('--image <image>', 'the operator image, in place of the install Deployment\'s')
  .option('--out <dir>', 'where to write the bundle', 'bundle')
  .addOption(kubectlOption())
  .addOption(basesOption())
  .action(async (flags) => {
    process.exitCode = await bundleCommand(flags);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander has printed its message (or the help) already.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    reportError(err);
  }
}

function reportError(err: unknown): void {
  // Bad input (flags, kubeconfig, operator names) exits 2; anything else, such as an unreachable cluster, exits 1.
  const usage = err instanceof UsageError || err instanceof ConnectionError || err instanceof UnknownOperatorError || err instanceof InputError;
  const debug = process.env.KUSTOMATE_LOG_LEVEL === 'debug';
  process.stderr.write(`kustomate: ${debug ? ((err as Error).stack ?? String(err)) : ((err as Error).message ?? String(err))}\n`);
  // diff's own exit code 1 means "changes": its errors exit 2 or more, as kubectl diff's do.
  process.exitCode = err instanceof DiffError ? err.exitCode : usage || process.argv[2] === 'diff' ? 2 : 1;
}
