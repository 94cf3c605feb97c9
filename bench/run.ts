// Coffer vs restic benchmark. Entry point of `npm run bench`; see bench/README.md.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  compareManifests,
  datasetParams,
  ensureDataset,
  manifest,
  mutatePercent,
  walk,
  type DatasetInfo,
  type ManifestEntry,
  type MutationSummary,
} from './dataset.js';
import { capture, dirSize, dropCaches, dropCachesStatus, runMeasured, type RunResult } from './measure.js';
import {
  SCENARIOS,
  aggregate,
  renderBaseline,
  renderMachine,
  renderMainTable,
  renderSummaryTable,
  type Baseline,
  type Machine,
  type Scenario,
  type StepRecord,
  type Tool,
  type VerifyRecord,
} from './report.js';
import { ROOT, benchLog, commonSettings, listEnv } from './settings.js';

const bench = benchLog('bench');
const log = bench.log;
// A declaration of its own, so that the compiler knows code after a call is unreachable.
function die(msg: string): never {
  return bench.die(msg);
}

// ---------------------------------------------------------------------------
// Configuration

const { scale, rounds, tools, wantDrop, timeoutS, resticBin, cofferJs } = commonSettings({ scale: 1, rounds: 3 }, die);
const scenarios = listEnv('BENCH_SCENARIOS', SCENARIOS, die);
const benchDir = path.resolve(process.env['BENCH_DIR'] ?? path.join(ROOT, 'bench', '.data'));
const srcOverride = process.env['BENCH_SRC'] ? path.resolve(process.env['BENCH_SRC']) : undefined;
const wantBaseline = process.env['BENCH_BASELINE'] !== '0';
const MUTATION_SEED = 'mutate-1';

const srcDir = srcOverride ?? path.join(benchDir, 'src');
const workDir = path.join(benchDir, 'work');
const reposDir = path.join(benchDir, 'repos');
const cacheRoot = path.join(benchDir, 'cache');
const restoreRoot = path.join(benchDir, 'restore');
const resultsFile = path.join(benchDir, 'results.json');

// ---------------------------------------------------------------------------
// Tools

interface ToolDef {
  argv(repo: string, ...args: string[]): string[];
  env(cacheDir: string): NodeJS.ProcessEnv;
}

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(RESTIC_|COFFER_)/.test(k) && k !== 'NODE_OPTIONS') env[k] = v;
  }
  return env;
}

const TOOL_DEFS: Record<Tool, ToolDef> = {
  restic: {
    argv: (repo, ...args) => [resticBin, '-r', repo, ...args],
    env: (cacheDir) => ({
      ...baseEnv(),
      RESTIC_PASSWORD: 'bench',
      RESTIC_CACHE_DIR: cacheDir,
      XDG_CACHE_HOME: cacheDir,
    }),
  },
  coffer: {
    // Run as users do (`npx coffer`): the file itself, so its shebang's node flags apply.
    argv: (repo, ...args) => [cofferJs, '-r', repo, ...args],
    env: (cacheDir) => ({
      ...baseEnv(),
      COFFER_PASSWORD: 'bench',
      COFFER_CACHE_DIR: cacheDir,
      XDG_CACHE_HOME: cacheDir,
    }),
  },
};

// ---------------------------------------------------------------------------
// Helpers

function rmrf(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

function machineInfo(): Machine {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: cpus[0]?.model ?? 'unknown',
    memGiB: os.totalmem() / 2 ** 30,
    kernel: os.release(),
    node: process.version,
    restic: capture(resticBin, ['version']),
    coffer: fs.existsSync(cofferJs)
      ? capture(process.execPath, [cofferJs, 'version']) || capture(process.execPath, [cofferJs, '--version'])
      : '',
    filesystem: capture('findmnt', ['-n', '-o', 'FSTYPE', '--target', benchDir]) || capture('stat', ['-f', '-c', '%T', benchDir]),
    git: capture('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
  };
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function describeFailure(r: RunResult): string {
  const why = r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`;
  const tail = (r.stderrTail.trim() || r.stdoutTail.trim()).split('\n').slice(-8).join('\n    ');
  return `${why}\n    ${tail}`;
}

function copyTree(from: string, to: string): number {
  const t0 = performance.now();
  rmrf(to);
  const r = spawnSync('cp', ['-a', '--reflink=auto', from, to], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) die(`cp -a ${from} ${to} failed: ${r.stderr?.toString()}`);
  return (performance.now() - t0) / 1000;
}

/** Find where a restore put the tree: restic recreates the absolute source path under --target. */
function restoredRoot(target: string, source: string): string {
  for (const c of [path.join(target, source), path.join(target, path.basename(source))]) {
    try {
      if (fs.statSync(c).isDirectory()) return c;
    } catch {
      // try next
    }
  }
  return target;
}

// ---------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  if (!fs.existsSync('/usr/bin/time')) die('/usr/bin/time (GNU time) is missing: apt-get install -y time');
  fs.mkdirSync(benchDir, { recursive: true });
  for (const d of [workDir, reposDir, cacheRoot, restoreRoot]) rmrf(d);

  if (tools.includes('restic') && !capture(resticBin, ['version'])) die(`restic not runnable (${resticBin})`);
  if (tools.includes('coffer')) {
    const r = spawnSync(process.execPath, [cofferJs, '--help'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) {
      log(`WARNING: "node ${cofferJs} --help" failed (exit ${r.status}); coffer steps will probably fail.`);
      const tail = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').slice(-5).join('\n    ');
      if (tail) log(`    ${tail}`);
    }
  }

  // Dataset
  let dataset: DatasetInfo;
  if (srcOverride) {
    const entries = walk(srcOverride);
    const files = entries.filter((e) => e.type === 'file');
    dataset = {
      dir: srcOverride,
      params: { ...datasetParams(scale), seed: 'external' },
      files: files.length,
      dirs: entries.length - files.length,
      bytes: files.reduce((a, e) => a + e.size, 0),
    };
    log(`dataset: using BENCH_SRC=${srcOverride} (${dataset.files} files, ${(dataset.bytes / 1e6).toFixed(1)} MB)`);
  } else {
    dataset = ensureDataset(srcDir, datasetParams(scale), log);
  }

  const machine = machineInfo();
  log(`machine: ${machine.nproc} × ${machine.cpu}; node ${machine.node}; ${machine.restic}`);
  log(`tools: ${tools.join(', ')}; scenarios: ${scenarios.join(', ')}; rounds: ${rounds}; scale: ${scale}`);

  const drop = (): boolean => (wantDrop ? dropCaches() : false);
  if (wantDrop && !drop()) log(`WARNING: could not drop the page cache (${dropCachesStatus().error}); continuing warm`);

  // Baselines
  const baseline: Baseline = {};
  if (wantBaseline) {
    drop();
    const r = await runMeasured(['sh', '-c', `tar -cf - -C ${shQuote(dataset.dir)} . | zstd -3 -T0 > /dev/null`]);
    baseline.tarZstdS = r.wallS;
    baseline.tarZstdCpuS = r.cpuS;
    baseline.tarZstdOk = r.ok;
    if (!r.ok) log(`baseline tar|zstd failed: ${describeFailure(r)}`);
    drop();
    let t0 = performance.now();
    baseline.entries = walk(dataset.dir).length;
    baseline.statWalkColdS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    walk(dataset.dir);
    baseline.statWalkWarmS = (performance.now() - t0) / 1000;
    log(
      `baseline: tar|zstd ${baseline.tarZstdS.toFixed(2)} s; stat-walk ${baseline.statWalkColdS.toFixed(3)} s cold, ` +
        `${baseline.statWalkWarmS.toFixed(3)} s warm (${baseline.entries} entries)`,
    );
  }

  const steps: StepRecord[] = [];
  const verifications: VerifyRecord[] = [];
  const mutations: MutationSummary[] = [];
  const copySeconds: number[] = [];
  let failures = 0;

  const results = () => ({
    machine,
    config: {
      scale,
      rounds,
      tools,
      scenarios,
      benchDir,
      srcDir: dataset.dir,
      workDir,
      dropCaches: wantDrop ? dropCachesStatus().state : 'disabled',
      resticBin,
      cofferJs,
    },
    dataset,
    baseline,
    mutations,
    copySeconds,
    steps,
    verifications,
    medians: aggregate(steps),
  });

  for (let round = 1; round <= rounds; round++) {
    log(`=== round ${round}/${rounds}`);
    copySeconds.push(copyTree(dataset.dir, workDir));
    log(`work copy ready in ${copySeconds[copySeconds.length - 1]!.toFixed(1)} s`);
    // Alternate which tool goes first in each round.
    const order = round % 2 === 1 ? [...tools] : [...tools].reverse();
    const broken = new Set<Tool>();
    const repo = (t: Tool) => path.join(reposDir, `${t}-${round}`);
    const cache = (t: Tool) => path.join(cacheRoot, `${t}-${round}`);
    const restoreDir = (t: Tool) => path.join(restoreRoot, `${t}-${round}`);

    const step = async (tool: Tool, scenario: Scenario | 'init', args: string[], timed: boolean) => {
      if (broken.has(tool)) {
        steps.push({
          round,
          tool,
          scenario,
          ok: false,
          skipped: true,
          exitCode: null,
          signal: null,
          wallS: NaN,
          userS: NaN,
          sysS: NaN,
          cpuS: NaN,
          maxRssMiB: NaN,
          cachesDropped: false,
          error: 'skipped: an earlier step of this tool failed in this round',
        });
        return undefined;
      }
      const def = TOOL_DEFS[tool];
      const dropped = timed ? drop() : false;
      const r = await runMeasured(def.argv(repo(tool), ...args), { env: def.env(cache(tool)), timeoutS });
      const size = fs.existsSync(repo(tool)) ? dirSize(repo(tool)) : undefined;
      const rec: StepRecord = {
        round,
        tool,
        scenario,
        ok: r.ok,
        exitCode: r.exitCode,
        signal: r.signal,
        wallS: r.wallS,
        userS: r.userS,
        sysS: r.sysS,
        cpuS: r.cpuS,
        maxRssMiB: r.maxRssMiB,
        cachesDropped: dropped,
        repoFileBytes: size?.fileBytes,
        repoApparentBytes: size?.apparentBytes,
        summary: r.summary,
      };
      if (!r.ok) {
        rec.error = describeFailure(r);
        failures++;
        log(`!!! ${tool} ${scenario} FAILED: ${rec.error}`);
      } else {
        const added = r.summary?.['data_added'];
        log(
          `${tool.padEnd(6)} ${scenario.padEnd(8)} ${r.wallS.toFixed(2).padStart(8)} s  ` +
            `cpu ${r.cpuS.toFixed(1).padStart(6)} s  rss ${r.maxRssMiB.toFixed(0).padStart(5)} MiB  ` +
            `repo ${size ? (size.fileBytes / 2 ** 20).toFixed(1) : '–'} MiB` +
            (typeof added === 'number' ? `  data_added ${(added / 2 ** 20).toFixed(1)} MiB` : ''),
        );
        if (scenario !== 'init' && (scenario === 'first' || scenario === 'nochange' || scenario === 'change') && !r.summary) {
          log(`    note: ${tool} printed no JSON summary line`);
        }
      }
      steps.push(rec);
      return r;
    };
    const backupArgs = ['backup', '--json', '--host', 'bench', workDir];

    for (const t of order) {
      rmrf(repo(t));
      rmrf(cache(t));
      fs.mkdirSync(reposDir, { recursive: true });
      fs.mkdirSync(cache(t), { recursive: true });
      const r = await step(t, 'init', ['init'], false);
      if (!r?.ok) broken.add(t);
    }
    // The first backup always runs (everything else depends on it), even if not reported.
    for (const t of order) if (!(await step(t, 'first', backupArgs, true))?.ok) broken.add(t);
    if (scenarios.includes('nochange')) {
      for (const t of order) if (!(await step(t, 'nochange', backupArgs, true))?.ok) broken.add(t);
    }
    if (scenarios.includes('change')) {
      const m = mutatePercent(workDir, 1, MUTATION_SEED);
      mutations.push(m);
      log(
        `mutated work copy: ${m.rewritten} rewritten, ${m.touched} touched, ${m.deleted} deleted, ` +
          `${m.added} added, ${m.largeModified} large files modified (${(m.bytesWritten / 1e6).toFixed(1)} MB written)`,
      );
      for (const t of order) if (!(await step(t, 'change', backupArgs, true))?.ok) broken.add(t);
    }
    if (scenarios.includes('restore')) {
      let expected: Map<string, ManifestEntry> | undefined;
      for (const t of order) {
        const dir = restoreDir(t);
        rmrf(dir);
        fs.mkdirSync(dir, { recursive: true });
        const r = await step(t, 'restore', ['restore', 'latest', '--target', dir], true);
        if (r?.ok) {
          const t0 = performance.now();
          expected ??= manifest(workDir);
          const root = restoredRoot(dir, workDir);
          const d = compareManifests(expected, manifest(root));
          const v: VerifyRecord = {
            round,
            tool: t,
            restoredRoot: root,
            equal: d.equal,
            problemCount: d.problemCount,
            problems: d.problems,
            mtimeMismatches: d.mtimeMismatches,
            seconds: (performance.now() - t0) / 1000,
          };
          verifications.push(v);
          if (d.equal) {
            log(
              `verify ${t}: restored tree equals source (${expected.size} entries` +
                (d.mtimeMismatches ? `; ${d.mtimeMismatches} file mtimes differ` : '') +
                `) in ${v.seconds.toFixed(1)} s`,
            );
          } else {
            failures++;
            log(`!!!!!!!! RESTORE MISMATCH (${t}, round ${round}): ${d.problemCount} problems — this is a bug !!!!!!!!`);
            for (const p of d.problems) log(`    ${p}`);
            log(`    restored root: ${root}`);
          }
        }
        rmrf(dir);
      }
    }
    if (scenarios.includes('check')) {
      for (const t of order) await step(t, 'check', ['check', '--read-data'], true);
    }
    for (const t of tools) {
      rmrf(repo(t));
      rmrf(cache(t));
    }
    fs.writeFileSync(resultsFile, JSON.stringify(results(), null, 2) + '\n');
  }
  rmrf(workDir);
  for (const d of [reposDir, cacheRoot, restoreRoot]) rmrf(d);

  // Report
  const res = results();
  fs.writeFileSync(resultsFile, JSON.stringify(res, null, 2) + '\n');
  const ds = dataset;
  const smallStats =
    `${ds.files} files, ${ds.dirs} dirs, ${(ds.bytes / 1e6).toFixed(1)} MB` +
    (srcOverride ? ` (BENCH_SRC)` : ` (scale ${scale})`);
  const dropNote =
    !wantDrop
      ? 'page cache NOT dropped (BENCH_DROP_CACHES=0)'
      : dropCachesStatus().state === 'ok'
        ? 'page cache dropped before each timed step'
        : `page cache could NOT be dropped (${dropCachesStatus().error}): warm-cache numbers`;
  const out: string[] = [];
  out.push('');
  out.push(`## Coffer vs restic (medians of ${rounds} round${rounds > 1 ? 's' : ''})`);
  out.push('');
  out.push(renderMachine(machine));
  out.push(`- dataset: ${smallStats}; ${dropNote}`);
  const b = renderBaseline(baseline, ds.bytes);
  if (b) out.push(b);
  out.push('');
  out.push(renderMainTable(res.medians, scenarios, ds.bytes));
  out.push('');
  out.push(
    'Ratios are coffer/restic (lower is better); MB/s = dataset bytes / wall time; repo = sum of file sizes ' +
      'in the repository after the step; RSS = peak RSS (GNU time %M); CPU = user+sys.',
  );
  const st = renderSummaryTable(res.medians, scenarios);
  if (st) {
    out.push('');
    out.push(st);
  }
  out.push('');
  const mism = verifications.filter((v) => !v.equal);
  if (verifications.length) {
    out.push(
      mism.length
        ? `**RESTORE VERIFICATION FAILED** for ${[...new Set(mism.map((v) => v.tool))].join(', ')} — see ${resultsFile}`
        : `Restore verification: ${verifications.length} restore(s) equal to the source (path, size, sha256).`,
    );
  }
  const failed = steps.filter((s) => !s.ok && !s.skipped);
  if (failed.length) {
    out.push(
      `**${failed.length} command(s) failed**: ` +
        failed.map((s) => `${s.tool} ${s.scenario} (round ${s.round})`).join(', ') +
        '. Details in results.json.',
    );
  }
  const skipped = steps.filter((s) => s.skipped).length;
  if (skipped) out.push(`${skipped} step(s) skipped after an earlier failure of the same tool.`);
  out.push(`Raw results: ${path.relative(process.cwd(), resultsFile) || resultsFile}`);
  process.stdout.write(out.join('\n') + '\n');
  if (failures) process.exitCode = 1;
}

main().catch((e: unknown) => {
  log(`fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(2);
});
