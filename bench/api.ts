// API latency benchmark, part of `npm run bench` (after the engine benchmark): p50/p99 of
// `GET /api/v1/backup/list` with 10,000 backups in the catalog and of `GET /api/v1/backup/{id}`,
// each under 50 concurrent clients, for SQLite and PostgreSQL. Target: p99 under 20 ms.
//
// Knobs: BENCH_API_BACKUPS (10000), BENCH_API_CLIENTS (50), BENCH_API_SECONDS (10 per measurement),
// BENCH_API_CATALOGS (sqlite,postgres), COFFER_TEST_PG (admin URL of PostgreSQL).
import { spawn } from 'node:child_process';
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
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'coffer.js'), 'serve', '--port', '0', '--data-dir', dataDir, '--catalog', location, '--log-level', 'silent'], {
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
async function load(name: string, next: () => string): Promise<{ name: string; n: number; p50: number; p99: number; max: number; rps: number }> {
  const lat: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  let errors = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
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
  return { name, n: lat.length, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1]!, rps: lat.length / SECONDS };
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
      // Warm up connections and caches.
      await load('warm-up', () => `${server.url}/api/v1/backup/list`).catch(() => undefined);
      const list = await load('GET /list', () => `${server.url}/api/v1/backup/list`);
      const one = await load('GET /{id}', () => `${server.url}/api/v1/backup/backup-${ids[Math.floor(Math.random() * ids.length)]}`);
      return [list, one].map((r) => `| ${catalogName} | ${r.name} | ${CLIENTS} | ${r.n} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.p99 < 20 ? 'PASS' : 'MISS'} |`);
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
process.stdout.write(`\nAPI latency: ${BACKUPS} backups in the catalog, ${CLIENTS} concurrent clients, ${SECONDS} s per row (node ${process.version}, ${os.cpus().length} cores)\n\n`);
process.stdout.write('| catalog | request | clients | requests | req/s | p50 ms | p99 ms | max ms | p99 < 20 ms |\n| :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: | :--- |\n');
process.stdout.write(rows.join('\n') + '\n');
