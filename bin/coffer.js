#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --optimize-for-size
// Entry point: runs the compiled CLI (npm install / npm test build it into dist/).
// Memory settings, each measured on the benchmark (peak RSS, same speed):
// - A 2 MiB young generation: the tree walk and restore planning churn through short-lived
//   objects, and V8's default lets the young generation grow to tens of MiB of mostly empty space
//   (no-change backup: 107 → 85 MiB).
// - --optimize-for-size: V8 grows the old generation more slowly and collects it sooner; the walk
//   of a backup otherwise carries ~20 MiB of dead nodes (backup after a 1 % change: 140 → 126 MiB,
//   first backup 180 → 160 MiB).
// - MALLOC_ARENA_MAX=2: glibc gives each thread (workers, libuv, V8's helpers) its own malloc
//   arena, and buffers freed across many arenas stay mapped (check --read-data: 130 → 119 MiB).
// `npx coffer` and running this file directly use them; `node bin/coffer.js` works too, with the
// defaults.
import { main } from '../dist/cli/main.js';

// The AWS SDK warns on every run under Node 20 that its releases after January 2027 need Node 22.
// package.json pins the SDK, so the warning tells users nothing they can act on; the upgrade to
// Node 22 is the project's (README, dependencies).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const code = await main(process.argv.slice(2));
process.exitCode = code;
