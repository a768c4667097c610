#!/usr/bin/env node
// Why: the `kustomate` command's entry, kept tiny. V8 sizes its young generation when the process starts, so a small
// one (less resident memory for an operator, which holds little short-lived data) is asked for on node's command line
// or in NODE_OPTIONS, as the image does: NODE_OPTIONS=--max-semi-space-size=1
// (https://nodejs.org/api/cli.html#--max-semi-space-sizesize-in-mib). A shebang cannot carry it portably.
import { setFlagsFromString } from 'node:v8';
// Unlike the young generation's size, these flags still count when set here, before any work starts
// (https://nodejs.org/api/v8.html#v8setflagsfromstringflags). V8 asks whether to favour memory over speed at every
// garbage collection (how far the heap may grow before the next). Without its two optimising compilers (Maglev and
// TurboFan, https://v8.dev/blog/maglev) V8 runs JavaScript in its interpreter and its baseline compiler, Sparkplug,
// and never brings the compilers' code and work memory into the process: an operator spends its time waiting for
// kubectl and the API server, not running hot JavaScript. `npm run bench:memory` measures the memory: 97 MB at 1000
// Samples, 113 MB with the compilers. Bursts of 200 Samples, with and without them in turn, took the same time.
setFlagsFromString('--optimize-for-size');
setFlagsFromString('--no-maglev');
setFlagsFromString('--no-turbofan');
await import('./program.ts');
