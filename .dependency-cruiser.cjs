// Why: the layers of src/ may only depend downwards; `npm test` fails on an import that points the wrong way.
//   kube, kubectl  <-  kustomize  <-  operator (the handler API)  <-  reconcile  <-  runtime  <-  start, cli
// The watcher and the queue know nothing of handlers; example operators use only the public handler API.
const layer = (name) => `^src/${name}/`;

/** A module in `from` may not import anything in `to`. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    forbid('kube-is-the-bottom', 'src/kube talks to the API server and knows nothing else of kustomate', layer('kube'), '^src/(?!kube/)'),
    forbid('kubectl-is-the-bottom', 'src/kubectl only spawns kubectl', layer('kubectl'), '^src/(?!kubectl/)'),
    forbid('kustomize-knows-only-the-bottom', 'the work dir and kustomize commands need nothing above kube and kubectl', layer('kustomize'), '^src/(?!kustomize/|kubectl/|kube/)'),
    forbid('api-below-the-engine', 'the handler API must not reach into the reconciler or the runtime', layer('operator'), '^src/(reconcile|runtime|operators|cli)/|^src/(start|index)\\.ts$'),
    forbid('reconcile-below-runtime', 'a reconcile knows nothing of watches, queues or processes (backoff is a formula)', layer('reconcile'), '^src/(runtime/(?!backoff\\.ts$)|operators/|cli/)|^src/(start|index)\\.ts$'),
    forbid('watcher-knows-no-handlers', 'the watcher emits objects; it knows nothing of operators, handlers or reconciles', '^src/runtime/(watcher|queue|namespaces|backoff)\\.ts$', '^src/(operator|reconcile|operators|kustomize|kubectl)/'),
    forbid('runtime-below-cli', 'the runtime does not know the command line or the example operators', layer('runtime'), '^src/(operators|cli)/'),
    forbid('examples-use-the-public-api', 'example operators use the handler API, never the engine', layer('operators'), '^src/(reconcile|runtime|cli)/|^src/start\\.ts$'),
    forbid('tools-below-cli', 'render, golden files, new projects and bundles are libraries: no engine, no examples, no command line', '^src/(render|scaffold|bundle)/', '^src/(reconcile|runtime|operators|cli)/|^src/(start|index)\\.ts$'),
    forbid('src-stands-alone', 'the product never imports tests, the lab, benchmarks or scripts', '^src/', '^(test|lab|bench|scripts|examples)/'),
    { name: 'no-cycles', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
