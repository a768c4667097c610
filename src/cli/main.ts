#!/usr/bin/env node
// Why: the `kustomate` command's entry. V8's young generation is kept small before the program loads: an operator
// holds little short-lived data, and a large nursery only raises its resident memory.
import v8 from 'node:v8';

v8.setFlagsFromString('--max-semi-space-size=1');
await import('./program.ts');
