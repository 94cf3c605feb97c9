// Aggregation (medians over rounds) and Markdown report rendering.

export const TOOLS = ['restic', 'coffer'] as const;
export type Tool = (typeof TOOLS)[number];

export const SCENARIOS = ['first', 'nochange', 'change', 'restore', 'check'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const SCENARIO_TITLES: Record<Scenario, string> = {
  first: 'first backup (fresh repo)',
  nochange: 'no-change backup',
  change: 'backup after 1% change',
  restore: 'restore latest',
  check: 'check --read-data',
};

/** Time ratio targets (coffer/restic) from the spec. */
export const TIME_TARGETS: Partial<Record<Scenario, { max: number; aim: number }>> = {
  first: { max: 1.0, aim: 0.5 },
  nochange: { max: 1.0, aim: 0.3 },
  restore: { max: 1.0, aim: 0.5 },
};
export const RSS_TARGET = 1.5;
export const REPO_TARGET = 1.02;
/** Scenarios after which the repository size is compared. */
const REPO_SCENARIOS: readonly Scenario[] = ['first', 'nochange', 'change'];

export interface StepRecord {
  round: number;
  tool: Tool;
  scenario: Scenario | 'init';
  ok: boolean;
  /** Not run because an earlier step of the same tool failed in this round. */
  skipped?: boolean;
  exitCode: number | null;
  signal: string | null;
  wallS: number;
  userS: number;
  sysS: number;
  cpuS: number;
  maxRssMiB: number;
  cachesDropped: boolean;
  repoFileBytes?: number;
  repoApparentBytes?: number;
  summary?: Record<string, unknown>;
  error?: string;
}

export interface VerifyRecord {
  round: number;
  tool: Tool;
  restoredRoot: string;
  equal: boolean;
  problemCount: number;
  problems: string[];
  mtimeMismatches: number;
  seconds: number;
}

export interface Aggregate {
  n: number;
  failures: number;
  wallS: number;
  cpuS: number;
  maxRssMiB: number;
  repoFileBytes: number;
  summary: Record<string, number>;
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

const SUMMARY_KEYS = [
  'data_added',
  'files_new',
  'files_changed',
  'files_unmodified',
  'total_files_processed',
  'total_bytes_processed',
] as const;

export function aggregate(steps: StepRecord[]): Partial<Record<Scenario, Partial<Record<Tool, Aggregate>>>> {
  const out: Partial<Record<Scenario, Partial<Record<Tool, Aggregate>>>> = {};
  for (const sc of SCENARIOS) {
    for (const tool of TOOLS) {
      const all = steps.filter((s) => s.scenario === sc && s.tool === tool);
      if (all.length === 0) continue;
      const ok = all.filter((s) => s.ok);
      const summary: Record<string, number> = {};
      for (const k of SUMMARY_KEYS) {
        const vals = ok.map((s) => Number(s.summary?.[k])).filter((x) => Number.isFinite(x));
        if (vals.length) summary[k] = median(vals);
      }
      (out[sc] ??= {})[tool] = {
        n: ok.length,
        failures: all.length - ok.length,
        wallS: median(ok.map((s) => s.wallS)),
        cpuS: median(ok.map((s) => s.cpuS)),
        maxRssMiB: median(ok.map((s) => s.maxRssMiB)),
        repoFileBytes: median(ok.map((s) => s.repoFileBytes ?? NaN)),
        summary,
      };
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Formatting helpers

const DASH = '–';

function num(x: number | undefined, digits: number): string {
  return x === undefined || !Number.isFinite(x) ? DASH : x.toFixed(digits);
}

function mib(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) ? DASH : (bytes / 1024 / 1024).toFixed(1);
}

function ratio(a: number | undefined, b: number | undefined): number {
  return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN;
}

function status(r: number, max: number, aim?: number): string {
  if (!Number.isFinite(r)) return '';
  if (aim !== undefined && r <= aim) return ' PASS (aim)';
  return r <= max ? ' PASS' : ' MISS';
}

function timeCell(a: Aggregate | undefined): string {
  if (!a) return DASH;
  if (a.n === 0) return 'FAIL';
  return num(a.wallS, 2) + (a.failures ? ` (${a.failures} failed)` : '');
}

export function markdownTable(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? 'r') === 'l' ? ':---' : '---:'));
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

// ---------------------------------------------------------------------------
// Report sections

export function renderMainTable(
  agg: ReturnType<typeof aggregate>,
  scenarios: readonly Scenario[],
  datasetBytes: number,
): string {
  const header = [
    'Scenario',
    'restic s',
    'coffer s',
    'coffer/restic',
    'time target',
    'restic MB/s',
    'coffer MB/s',
    'RSS restic MiB',
    'RSS coffer MiB',
    'RSS ratio (≤1.5)',
    'repo restic MiB',
    'repo coffer MiB',
    'repo ratio (≤1.02)',
    'CPU restic s',
    'CPU coffer s',
  ];
  const rows: string[][] = [];
  for (const sc of scenarios) {
    const r = agg[sc]?.restic;
    const c = agg[sc]?.coffer;
    const t = TIME_TARGETS[sc];
    const tr = ratio(c?.wallS, r?.wallS);
    const rr = ratio(c?.maxRssMiB, r?.maxRssMiB);
    const showRepo = REPO_SCENARIOS.includes(sc);
    const pr = showRepo ? ratio(c?.repoFileBytes, r?.repoFileBytes) : NaN;
    const mbs = (a: Aggregate | undefined) => (a && a.n ? num(datasetBytes / 1e6 / a.wallS, 1) : DASH);
    rows.push([
      SCENARIO_TITLES[sc],
      timeCell(r),
      timeCell(c),
      num(tr, 2) + (t ? status(tr, t.max, t.aim) : ''),
      t ? `≤${t.max.toFixed(1)} (aim ${t.aim})` : DASH,
      mbs(r),
      mbs(c),
      num(r?.maxRssMiB, 0),
      num(c?.maxRssMiB, 0),
      num(rr, 2) + status(rr, RSS_TARGET),
      showRepo ? mib(r?.repoFileBytes) : DASH,
      showRepo ? mib(c?.repoFileBytes) : DASH,
      showRepo ? num(pr, 3) + status(pr, REPO_TARGET) : DASH,
      num(r?.cpuS, 1),
      num(c?.cpuS, 1),
    ]);
  }
  return markdownTable(header, rows, ['l']);
}

export function renderSummaryTable(agg: ReturnType<typeof aggregate>, scenarios: readonly Scenario[]): string {
  const rows: string[][] = [];
  for (const sc of scenarios) {
    if (sc !== 'first' && sc !== 'nochange' && sc !== 'change') continue;
    for (const tool of TOOLS) {
      const a = agg[sc]?.[tool];
      if (!a || a.n === 0) continue;
      const s = a.summary;
      rows.push([
        SCENARIO_TITLES[sc],
        tool,
        mib(s['data_added']),
        num(s['files_new'], 0),
        num(s['files_changed'], 0),
        num(s['files_unmodified'], 0),
        num(s['total_files_processed'], 0),
        mib(s['total_bytes_processed']),
      ]);
    }
  }
  if (rows.length === 0) return '';
  return markdownTable(
    ['Backup', 'tool', 'data_added MiB', 'new', 'changed', 'unmodified', 'files processed', 'bytes processed MiB'],
    rows,
    ['l', 'l'],
  );
}

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  memGiB: number;
  kernel: string;
  node: string;
  restic: string;
  coffer: string;
  filesystem: string;
  git: string;
}

export function renderMachine(m: Machine): string {
  return [
    `- date: ${m.date}`,
    `- machine: ${m.nproc} × ${m.cpu}, ${m.memGiB.toFixed(0)} GiB RAM, Linux ${m.kernel}, data on ${m.filesystem}`,
    `- node ${m.node}; ${m.restic || 'restic: (unavailable)'}; coffer: ${m.coffer || '(unavailable)'} (git ${m.git || 'n/a'})`,
  ].join('\n');
}

export interface Baseline {
  tarZstdS?: number;
  tarZstdCpuS?: number;
  tarZstdOk?: boolean;
  statWalkColdS?: number;
  statWalkWarmS?: number;
  entries?: number;
}

export function renderBaseline(b: Baseline, datasetBytes: number): string {
  const lines: string[] = [];
  if (b.tarZstdS !== undefined) {
    lines.push(
      `- \`tar -cf - SRC | zstd -3 -T0 > /dev/null\`: ${b.tarZstdS.toFixed(2)} s ` +
        `(${(datasetBytes / 1e6 / b.tarZstdS).toFixed(0)} MB/s, CPU ${num(b.tarZstdCpuS, 1)} s)` +
        (b.tarZstdOk === false ? ' **(command failed)**' : ''),
    );
  }
  if (b.statWalkColdS !== undefined) {
    lines.push(
      `- stat-walk of ${b.entries} entries: ${b.statWalkColdS.toFixed(3)} s cold, ${num(b.statWalkWarmS, 3)} s warm`,
    );
  }
  return lines.join('\n');
}
