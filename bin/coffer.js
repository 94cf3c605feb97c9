#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --optimize-for-size --initial-old-space-size=32
// Entry point: runs the compiled CLI (npm install / npm test build it into dist/).
// Memory settings, each measured on the benchmark (peak RSS, same speed):
// - A 2 MiB young generation: the tree walk and restore planning churn through short-lived
//   objects, and V8's default lets the young generation grow to tens of MiB of mostly empty space
//   (no-change backup: 107 → 85 MiB).
// - --optimize-for-size: V8 grows the old generation more slowly and collects it sooner; the walk
//   of a backup otherwise carries ~20 MiB of dead nodes (backup after a 1 % change: 140 → 126 MiB,
//   first backup 180 → 160 MiB).
// - --initial-old-space-size=32 (MiB): with --optimize-for-size alone the old generation starts at
//   a few MiB and grows slowly, and on object storage each request's SDK objects outlive a young
//   collection; check --read-data on Ceph ran 35 full collections instead of 2 (5.1 → 4.2 s, CPU
//   5.5 → 4.1 s). On a local disk peak RSS grows by 4–10 MiB at the same speed.
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
