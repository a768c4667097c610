#!/usr/bin/env node
// Why: the `kustomate` command's entry, kept tiny. V8 sizes its young generation when the process starts, so a small
// one (less resident memory for an operator, which holds little short-lived data) is asked for on node's command line
// or in NODE_OPTIONS, as the image does: NODE_OPTIONS=--max-semi-space-size=1
// (https://nodejs.org/api/cli.html#--max-semi-space-sizesize-in-mib). A shebang cannot carry it portably.
import { setFlagsFromString } from 'node:v8';
// Unlike the young generation's size, V8 asks whether to favour memory over speed at every garbage collection (how
// far the heap may grow before the next), so this flag still counts when set here, before any work starts
// (https://nodejs.org/api/v8.html#v8setflagsfromstringflags): `npm run bench:memory` measures its effect. An
// operator spends its time waiting for kubectl and the API server, not running JavaScript.
setFlagsFromString('--optimize-for-size');
await import('./program.ts');
