// Coffer vs restic on S3: entry point of `npm run bench:s3`.
//
// Starts a real S3 server (Ceph's RADOS Gateway, test/support/ceph-s3.sh: about 20 s, data in
// memory) and runs Coffer and restic 0.14 side by side on bench/run.ts's dataset, each into its
// own bucket: init (not reported), first backup, no-change backup, restore latest (verified against
// the source), check --read-data. Measured as bench/run.ts measures (bench/measure.ts: wall time,
// peak RSS and CPU under GNU time); the repository size is the sum of the objects in its bucket.
//
// Knobs (as bench/run.ts where they overlap):
//   BENCH_SCALE      dataset size factor (default 0.3 ≈ 450 MB: Ceph keeps every object in memory)
//   BENCH_ROUNDS     rounds, medians reported (default 1)
//   BENCH_SCENARIOS  first,nochange,restore,check (the first backup always runs)
//   BENCH_TOOLS      restic,coffer
//   BENCH_DIR        base directory (default bench/.data; this benchmark uses its s3/ subfolder)
//   BENCH_DROP_CACHES 0 = keep the page cache (default: dropped before each timed step, as root)
//   BENCH_RESTIC, BENCH_COFFER, BENCH_TIMEOUT as in bench/run.ts

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

import { type S3Server, startCephS3 } from '../test/support/services.js';
import { compareManifests, datasetParams, ensureDataset, manifest, type ManifestEntry } from './dataset.js';
import { capture, dropCaches, dropCachesStatus, runMeasured } from './measure.js';
import {
  aggregate,
  renderMachine,
  renderMainTable,
  renderSummaryTable,
  type Scenario,
  type StepRecord,
  type Tool,
  type VerifyRecord,
} from './report.js';
import { ROOT, benchLog, commonSettings, listEnv } from './settings.js';

// The SDK warns under Node 20 about its releases after January 2027; bin/coffer.js silences it the same way.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const S3_SCENARIOS = ['first', 'nochange', 'restore', 'check'] as const satisfies readonly Scenario[];

const bench = benchLog('bench:s3');
const log = bench.log;
// A declaration of its own, so that the compiler knows code after a call is unreachable.
function die(msg: string): never {
  return bench.die(msg);
}

const { scale, rounds, tools, wantDrop, timeoutS, resticBin, cofferJs } = commonSettings({ scale: 0.3, rounds: 1 }, die);
const scenarios = listEnv('BENCH_SCENARIOS', S3_SCENARIOS, die);
const baseDir = path.resolve(process.env['BENCH_DIR'] ?? path.join(ROOT, 'bench', '.data'), 's3');

// Its own dataset folder: a different scale in bench/.data/src would make bench/run.ts regenerate it.
const srcDir = path.join(baseDir, 'src');
const cacheRoot = path.join(baseDir, 'cache');
const restoreRoot = path.join(baseDir, 'restore');
const resultsFile = path.join(baseDir, 'results.json');

/** The variables each tool reads: the password, its cache, and the S3 credentials restic's way. */
function toolEnv(tool: Tool, server: S3Server, cacheDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(RESTIC_|COFFER_|AWS_)/.test(k) && k !== 'NODE_OPTIONS') env[k] = v;
  Object.assign(env, { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, XDG_CACHE_HOME: cacheDir });
  return tool === 'restic'
    ? { ...env, RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: cacheDir }
    : { ...env, COFFER_PASSWORD: 'bench', COFFER_CACHE_DIR: cacheDir };
}

function argv(tool: Tool, repo: string, ...args: string[]): string[] {
  return tool === 'restic' ? [resticBin, '-r', repo, ...args] : [cofferJs, '-r', repo, ...args];
}

/** Sum of the object sizes under a bucket (the repository's size, as `dirSize` is for a directory). */
async function bucketBytes(s3: S3Client, bucket: string): Promise<number> {
  let total = 0;
  let token: string | undefined;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of r.Contents ?? []) total += o.Size ?? 0;
    token = r.NextContinuationToken;
  } while (token);
  return total;
}

/** Empties and deletes a bucket, so that Ceph's memory holds one round's repositories at a time. */
async function dropBucket(s3: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket })).catch(() => undefined);
    const keys = (r?.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length === 0) break;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
}

/** restic puts the tree under --target plus its absolute path; so does Coffer. */
function restoredRoot(target: string, source: string): string {
  const c = path.join(target, source);
  return fs.existsSync(c) ? c : target;
}

async function main(): Promise<void> {
  if (!fs.existsSync('/usr/bin/time')) die('/usr/bin/time (GNU time) is missing: apt-get install -y time');
  if (tools.includes('restic') && !capture(resticBin, ['version'])) die(`restic not runnable (${resticBin})`);
  if (tools.includes('coffer') && spawnSync(process.execPath, [cofferJs, '--help']).status !== 0) die(`coffer not runnable (${cofferJs}); run npm run build`);
  fs.mkdirSync(baseDir, { recursive: true });
  for (const d of [cacheRoot, restoreRoot]) fs.rmSync(d, { recursive: true, force: true });
  const dataset = ensureDataset(srcDir, datasetParams(scale), log);

  log('starting Ceph RGW (about 20 s)');
  const server = await startCephS3();
  if (!server) die('the S3 server (Ceph RGW) is unavailable; see the reason above');
  const s3 = new S3Client({ endpoint: server.endpoint, region: server.region, forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
  const steps: StepRecord[] = [];
  const verifications: VerifyRecord[] = [];
  let failures = 0;
  try {
    const drop = (): boolean => (wantDrop ? dropCaches() : false);
    if (wantDrop && !drop()) log(`WARNING: could not drop the page cache (${dropCachesStatus().error}); continuing warm`);
    let expected: Map<string, ManifestEntry> | undefined;
    for (let round = 1; round <= rounds; round++) {
      log(`=== round ${round}/${rounds}`);
      const order = round % 2 === 1 ? [...tools] : [...tools].reverse();
      const broken = new Set<Tool>();
      const bucket = (t: Tool) => `bench-${t}-${round}`;
      const repo = (t: Tool) => `s3:${server.endpoint}/${bucket(t)}/repo`;
      const cache = (t: Tool) => path.join(cacheRoot, `${t}-${round}`);

      const step = async (tool: Tool, scenario: Scenario | 'init', args: string[], timed: boolean) => {
        if (broken.has(tool)) return undefined;
        const cachesDropped = timed ? drop() : false;
        const r = await runMeasured(argv(tool, repo(tool), ...args), { env: toolEnv(tool, server, cache(tool)), timeoutS });
        const repoFileBytes = await bucketBytes(s3, bucket(tool)).catch(() => undefined);
        const rec: StepRecord = {
          round, tool, scenario, ok: r.ok, exitCode: r.exitCode, signal: r.signal, wallS: r.wallS, userS: r.userS, sysS: r.sysS,
          cpuS: r.cpuS, maxRssMiB: r.maxRssMiB, cachesDropped, ...(repoFileBytes !== undefined ? { repoFileBytes } : {}),
          ...(r.summary ? { summary: r.summary } : {}),
        };
        if (!r.ok) {
          rec.error = `${r.signal ?? `exit code ${r.exitCode}`}: ${(r.stderrTail.trim() || r.stdoutTail.trim()).split('\n').slice(-8).join('\n    ')}`;
          failures++;
          broken.add(tool);
          log(`!!! ${tool} ${scenario} FAILED: ${rec.error}`);
        } else {
          log(`${tool.padEnd(6)} ${scenario.padEnd(8)} ${r.wallS.toFixed(2).padStart(8)} s  cpu ${r.cpuS.toFixed(1).padStart(6)} s  ` +
            `rss ${r.maxRssMiB.toFixed(0).padStart(5)} MiB  bucket ${repoFileBytes === undefined ? '–' : (repoFileBytes / 2 ** 20).toFixed(1)} MiB`);
        }
        steps.push(rec);
        return r;
      };
      const backupArgs = ['backup', '--json', '--host', 'bench', dataset.dir];

      for (const t of order) {
        fs.rmSync(cache(t), { recursive: true, force: true });
        fs.mkdirSync(cache(t), { recursive: true });
        await step(t, 'init', ['init'], false);
      }
      for (const t of order) await step(t, 'first', backupArgs, true);
      if (scenarios.includes('nochange')) for (const t of order) await step(t, 'nochange', backupArgs, true);
      if (scenarios.includes('restore')) {
        for (const t of order) {
          const target = path.join(restoreRoot, `${t}-${round}`);
          fs.rmSync(target, { recursive: true, force: true });
          fs.mkdirSync(target, { recursive: true });
          if ((await step(t, 'restore', ['restore', 'latest', '--target', target], true))?.ok) {
            const t0 = performance.now();
            expected ??= manifest(dataset.dir);
            const root = restoredRoot(target, dataset.dir);
            const d = compareManifests(expected, manifest(root));
            verifications.push({ round, tool: t, restoredRoot: root, equal: d.equal, problemCount: d.problemCount, problems: d.problems,
              mtimeMismatches: d.mtimeMismatches, seconds: (performance.now() - t0) / 1000 });
            if (!d.equal) {
              failures++;
              log(`!!!!!!!! RESTORE MISMATCH (${t}, round ${round}): ${d.problemCount} problems — this is a bug !!!!!!!!`);
              for (const p of d.problems) log(`    ${p}`);
            } else log(`verify ${t}: restored tree equals the source (${expected.size} entries)`);
          }
          fs.rmSync(target, { recursive: true, force: true });
        }
      }
      if (scenarios.includes('check')) for (const t of order) await step(t, 'check', ['check', '--read-data'], true);
      for (const t of tools) {
        await dropBucket(s3, bucket(t));
        fs.rmSync(cache(t), { recursive: true, force: true });
      }
    }
  } finally {
    await server.stop();
  }

  const machine = {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memGiB: os.totalmem() / 2 ** 30,
    kernel: os.release(),
    node: process.version,
    restic: capture(resticBin, ['version']),
    coffer: capture(process.execPath, [cofferJs, 'version']) || capture(process.execPath, [cofferJs, '--version']),
    filesystem: 'S3 (Ceph RGW, memstore)',
    git: capture('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
  };
  const medians = aggregate(steps);
  fs.writeFileSync(resultsFile, JSON.stringify({ machine, config: { scale, rounds, tools, scenarios, endpoint: 'ceph-rgw' }, dataset, steps, verifications, medians }, null, 2) + '\n');

  const out: string[] = ['', `## Coffer vs restic on S3 (Ceph RGW on loopback; medians of ${rounds} round${rounds > 1 ? 's' : ''})`, ''];
  out.push(renderMachine(machine));
  out.push(`- dataset: ${dataset.files} files, ${dataset.dirs} dirs, ${(dataset.bytes / 1e6).toFixed(1)} MB (scale ${scale}); ` +
    (wantDrop && dropCachesStatus().state === 'ok' ? 'page cache dropped before each timed step' : 'warm page cache'));
  out.push('', renderMainTable(medians, scenarios, dataset.bytes), '');
  out.push('Ratios are coffer/restic (lower is better); MB/s = dataset bytes / wall time; repo = sum of the object sizes in the ' +
    'repository\'s bucket after the step; RSS = peak RSS (GNU time %M); CPU = user+sys of the client (not Ceph\'s).');
  const st = renderSummaryTable(medians, scenarios);
  if (st) out.push('', st);
  out.push('');
  if (verifications.length) {
    const bad = verifications.filter((v) => !v.equal);
    out.push(bad.length ? `**RESTORE VERIFICATION FAILED** for ${[...new Set(bad.map((v) => v.tool))].join(', ')} — see ${resultsFile}`
      : `Restore verification: ${verifications.length} restore(s) equal to the source (path, size, sha256).`);
  }
  const failed = steps.filter((s) => !s.ok);
  if (failed.length) out.push(`**${failed.length} command(s) failed**: ${failed.map((s) => `${s.tool} ${s.scenario} (round ${s.round})`).join(', ')}.`);
  out.push(`Raw results: ${path.relative(process.cwd(), resultsFile) || resultsFile}`);
  process.stdout.write(out.join('\n') + '\n');
  if (failures) process.exitCode = 1;
}

main().catch((e: unknown) => {
  log(`fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(2);
});
