// API latency benchmark, part of `npm run bench` (after the engine benchmark): p50/p99 of
// `GET /api/v1/backup/list` with 10,000 backups in the catalog and of `GET /api/v1/backup/{id}`,
// each under 50 concurrent clients, for SQLite and PostgreSQL. Target: p99 under 20 ms. The server
// keeps recently sent pages of the list until the catalog changes, so `GET /list` repeated is the
// polling case; `?offset=random` asks for a different page each time (nothing kept helps).
//
// Knobs: BENCH_API_BACKUPS (10000), BENCH_API_CLIENTS (50), BENCH_API_SECONDS (10 per measurement),
// BENCH_API_CATALOGS (sqlite,postgres), COFFER_TEST_PG (admin URL of PostgreSQL).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Catalog } from '../src/catalog/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BACKUPS = Number(process.env['BENCH_API_BACKUPS'] ?? 10_000);
const CLIENTS = Number(process.env['BENCH_API_CLIENTS'] ?? 50);
const SECONDS = Number(process.env['BENCH_API_SECONDS'] ?? 10);
const CATALOGS = (process.env['BENCH_API_CATALOGS'] ?? 'sqlite,postgres').split(',').filter(Boolean);
const PG_ADMIN = process.env['COFFER_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const KEY = 'cfr_bench-key-0123456789abcdefghijklmnopqrstuvwxyzAB';

function log(msg: string): void {
  process.stderr.write(`[bench api ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function seed(location: string): Promise<number[]> {
  const cat = await Catalog.open(location);
  try {
    const instance = (await cat.instances.byName('device'))!;
    const ids: number[] = [];
    for (let done = 0; done < BACKUPS; done += 1000) {
      await cat.transaction(async (tx) => {
        for (let i = done; i < Math.min(BACKUPS, done + 1000); i++) {
          const b = await cat.backups.insert({
            instanceId: instance.id, repositoryId: instance.repositoryId, scope: 'full', type: i % 7 === 0 ? 'full' : 'incremental',
            label: `bench ${i}`, description: 'seeded by bench/api.ts', status: 'success', hostname: os.hostname(), model: 'coffer',
            serial: '', swVersion: 'bench', queryArgs: null, includeFiles: true, includeDatabase: false, createdBy: 'admin', scheduleId: null, extra: null,
          }, tx);
          ids.push(b.id);
        }
      });
    }
    return ids;
  } finally {
    await cat.close();
  }
}

async function startServer(dataDir: string, location: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...(process.env['BENCH_API_NODE_ARGS'] ?? '').split(' ').filter(Boolean), path.join(ROOT, 'bin', 'coffer.js'), 'serve', '--port', '0', '--data-dir', dataDir, '--catalog', location, '--log-level', 'silent'], {
    env: { ...process.env, COFFER_ADMIN_PASSWORD: 'bench-password', COFFER_ADMIN_API_KEY: KEY }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /coffer listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (c) => reject(new Error(`server exited ${c}: ${out}`)));
  });
  return { url, stop: async () => { child.kill('SIGTERM'); await new Promise((r) => child.on('exit', r)); } };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** `CLIENTS` loops, each sending its next request when the last answered, for `SECONDS`. */
interface Row {
  name: string;
  clients: number;
  n: number;
  p50: number;
  p99: number;
  max: number;
  rps: number;
}

async function load(name: string, next: () => string, clients = CLIENTS): Promise<Row> {
  const lat: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  let errors = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      const res = await fetch(next(), { headers: { 'x-api-key': KEY } });
      await res.arrayBuffer();
      if (res.status !== 200) errors++;
      lat.push(performance.now() - t);
    }
  }));
  if (errors) throw new Error(`${name}: ${errors} requests failed`);
  lat.sort((a, b) => a - b);
  return { name, clients, n: lat.length, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1]!, rps: lat.length / SECONDS };
}

const HAVE_WRK = spawnSync('wrk', ['--version']).error === undefined;

/** Parses wrk's `--latency` distribution ("50%  1.23ms") into milliseconds. */
function wrkMs(text: string, label: string): number {
  const m = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(text);
  if (!m) throw new Error(`wrk output without ${label}:\n${text}`);
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/**
 * The same measurement with wrk (Debian's package), which costs the machine far less CPU per
 * request than a Node client: on 2 cores the load generator otherwise takes half the machine.
 */
function loadWrk(name: string, url: string, pathLua: string, clients = CLIENTS): Row {
  const script = path.join(os.tmpdir(), `coffer-wrk-${process.pid}.lua`);
  fs.writeFileSync(script, `wrk.headers["x-api-key"] = "${KEY}"\nrequest = function()\n  return wrk.format(nil, ${pathLua})\nend\n`);
  const r = spawnSync('wrk', ['-t1', `-c${clients}`, `-d${SECONDS}s`, '--latency', '-s', script, url], { encoding: 'utf8' });
  fs.rmSync(script, { force: true });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  if (/Non-2xx/.test(r.stdout)) throw new Error(`${name}: some requests failed:\n${r.stdout}`);
  const n = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
  const maxM = /Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(r.stdout);
  const max = maxM ? (maxM[2] === 'us' ? Number(maxM[1]) / 1000 : maxM[2] === 's' ? Number(maxM[1]) * 1000 : Number(maxM[1])) : NaN;
  return { name, clients, n, p50: wrkMs(r.stdout, '50%'), p99: wrkMs(r.stdout, '99%'), max, rps: n / SECONDS };
}

async function run(catalogName: string): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-api-'));
  let location = `sqlite:${path.join(dir, 'coffer.db')}`;
  let dropDb: (() => Promise<void>) | undefined;
  if (catalogName === 'postgres') {
    const db = `coffer_bench_${randomBytes(4).toString('hex')}`;
    const c = new pg.Client(PG_ADMIN);
    await c.connect();
    await c.query(`CREATE DATABASE ${db}`);
    await c.end();
    const u = new URL(PG_ADMIN);
    u.pathname = `/${db}`;
    location = u.toString();
    dropDb = async () => {
      const d = new pg.Client(PG_ADMIN);
      await d.connect();
      await d.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await d.end();
    };
  }
  try {
    // First start creates the schema, the repository and the admin; then the catalog is seeded.
    let server = await startServer(path.join(dir, 'data'), location);
    await server.stop();
    log(`${catalogName}: seeding ${BACKUPS} backups`);
    const ids = await seed(location);
    server = await startServer(path.join(dir, 'data'), location);
    try {
      const lo = Math.min(...ids);
      const hi = Math.max(...ids);
      const listPath = '/api/v1/backup/list';
      const onePath = (i: number) => `/api/v1/backup/backup-${i}`;
      let rows: Row[];
      if (HAVE_WRK) {
        const oneLua = `"/api/v1/backup/backup-" .. math.random(${lo}, ${hi})`;
        // Warm-ups, not reported: a server that has run a while has its code optimized and what
        // clients poll kept (the list's page, the backups asked for).
        loadWrk('warm-up', server.url, `"${listPath}"`);
        loadWrk('warm-up', server.url, oneLua);
        rows = [
          loadWrk('GET /list', server.url, `"${listPath}"`, 1),
          loadWrk('GET /list', server.url, `"${listPath}"`),
          loadWrk('GET /{id}', server.url, oneLua),
          loadWrk('GET /list?offset=random', server.url, `"${listPath}?offset=" .. math.random(0, ${BACKUPS - 100})`),
        ];
      } else {
        log('wrk not found (apt-get install wrk): measuring with a Node client, which competes with the server for the CPU');
        await load('warm-up', () => server.url + listPath).catch(() => undefined);
        rows = [
          await load('GET /list', () => server.url + listPath, 1),
          await load('GET /list', () => server.url + listPath),
          await load('GET /list?offset=random', () => `${server.url}${listPath}?offset=${Math.floor(Math.random() * (BACKUPS - 99))}`),
          await load('GET /{id}', () => server.url + onePath(lo + Math.floor(Math.random() * (hi - lo + 1)))),
        ];
      }
      return rows.map((r) => `| ${catalogName} | ${r.name} | ${r.clients} | ${r.n} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.p99 < 20 ? 'PASS' : 'MISS'} |`);
    } finally {
      await server.stop();
    }
  } finally {
    await dropDb?.();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const rows: string[] = [];
for (const c of CATALOGS) rows.push(...(await run(c)));
process.stdout.write(`\nAPI latency: ${BACKUPS} backups in the catalog, ${CLIENTS} concurrent clients, ${SECONDS} s per row, load from ${HAVE_WRK ? 'wrk (1 thread)' : 'a Node client'} (node ${process.version}, ${os.cpus().length} cores)\n\n`);
process.stdout.write('| catalog | request | clients | requests | req/s | p50 ms | p99 ms | max ms | p99 < 20 ms |\n| :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: | :--- |\n');
process.stdout.write(rows.join('\n') + '\n');
