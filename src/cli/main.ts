#!/usr/bin/env node
// Why: the `kustomate` command's entry, kept tiny. V8 sizes its young generation when the process starts, so a small
// one (less resident memory for an operator, which holds little short-lived data) is asked for on node's command line
// or in NODE_OPTIONS, as the image does: NODE_OPTIONS=--max-semi-space-size=1
// (https://nodejs.org/api/cli.html#--max-semi-space-sizesize-in-mib). A shebang cannot carry it portably.
await import('./program.ts');
