#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2
// Entry point: runs the compiled CLI (npm install / npm test build it into dist/).
// A 2 MiB young generation: the tree walk and restore planning churn through short-lived objects,
// and V8's default lets the young generation grow to tens of MiB of mostly empty space (peak
// memory of a no-change backup: 107 → 85 MiB measured, same speed). `npx coffer` and running this
// file directly use the flag; `node bin/coffer.js` works too, with V8's defaults.
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2));
process.exitCode = code;
