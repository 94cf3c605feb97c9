/**
 * The engine on Azure Blob Storage (Azurite) through the built CLI, and interoperability with the
 * real restic 0.14 in both directions. restic 0.14 cannot be given an endpoint, but its SDK sends the
 * development account `devstoreaccount1` to http://127.0.0.1:10000 (path style), so a plain forwarder
 * on that port puts it in front of the test's Azurite.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, cofferOk, manifest, PASSWORD, pseudoRandom, requireRestic, tempDir } from './helpers.js';
import { type FlakyProxy, NO_FAULTS, startFlakyProxy } from './support/flaky-azure-proxy.js';
import { startAzurite, unavailable } from './support/services.js';

const runFile = promisify(execFile);
const azurite = await startAzurite();
const CONTAINER = 'coffer-engine';
/** Where restic 0.14's SDK looks for the storage emulator; not configurable. */
const EMULATOR_PORT = 10000;

let work: string;
let src: string;

function azureEnv(): Record<string, string> {
  return { AZURE_ACCOUNT_NAME: azurite!.accountName, AZURE_ACCOUNT_KEY: azurite!.accountKey, COFFER_AZURE_ENDPOINT: azurite!.blobEndpoint };
}

function lastJson(out: string): Record<string, unknown> {
  return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

/** restic run without blocking the event loop: the forwarder to Azurite lives in this process. */
async function resticAsync(args: string[]): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...azureEnv(), RESTIC_PASSWORD: PASSWORD, RESTIC_CACHE_DIR: path.join(os.tmpdir(), 'coffer-test-restic-cache') };
  delete env['COFFER_AZURE_ENDPOINT'];
  try {
    const r = await runFile('restic', args, { env, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    throw new Error(`restic ${args.join(' ')} exited ${e.code}\nstdout: ${e.stdout}\nstderr: ${e.stderr}`);
  }
}

async function blobNames(prefix: string): Promise<string[]> {
  const service = BlobServiceClient.fromConnectionString(azurite!.connectionString);
  const out: string[] = [];
  for await (const b of service.getContainerClient(CONTAINER).listBlobsFlat({ prefix })) out.push(b.name.slice(prefix.length));
  return out.sort();
}

/** A 30 MiB file (two packs' worth) and many small files in nested directories. */
function buildTree(root: string): void {
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'big-30m.bin'), pseudoRandom(30 * 1024 * 1024, 42));
  for (let d = 0; d < 20; d++) {
    const dir = path.join(root, `dir-${d}`, 'nested');
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 20; f++) fs.writeFileSync(path.join(dir, `file-${f}.txt`), `file ${f} in ${d}\n`.repeat(1 + ((d * 20 + f) % 37)));
  }
  fs.writeFileSync(path.join(root, 'empty'), '');
}

beforeAll(() => {
  work = tempDir('coffer-azure-rt-');
  src = path.join(work, 'src');
  buildTree(src);
});

afterAll(async () => {
  fs.rmSync(work, { recursive: true, force: true });
  await azurite?.stop();
});

/** restic's layout, nothing else: no directory markers, temporary names or left-over locks. */
const LAYOUT = /^(config|keys\/[0-9a-f]{64}|snapshots\/[0-9a-f]{64}|index\/[0-9a-f]{64}|data\/([0-9a-f]{2})\/\2[0-9a-f]{62})$/;

describe.skipIf(!azurite)('coffer on Azure Blob Storage (Azurite)', () => {
  it('init, backup, check --read-data, restore an identical tree; a second backup stores nothing new', () => {
    const repo = `azure:${CONTAINER}:/coffer-rt`;
    cofferOk(['-r', repo, 'init'], { env: azureEnv() });
    const first = lastJson(cofferOk(['-r', repo, '--json', 'backup', src], { env: azureEnv() }).stdout);
    expect(first['message_type']).toBe('summary');
    expect(first['files_new']).toBe(402);
    cofferOk(['-r', repo, 'check', '--read-data'], { env: azureEnv() });
    const target = path.join(work, 'restore-coffer');
    cofferOk(['-r', repo, 'restore', 'latest', '--target', target], { env: azureEnv() });
    expect(manifest(path.join(target, src))).toEqual(manifest(src));

    const second = lastJson(cofferOk(['-r', repo, '--json', 'backup', src], { env: azureEnv() }).stdout);
    expect(second['files_new']).toBe(0);
    expect(second['files_unmodified']).toBe(402);
    expect(second['data_blobs']).toBe(0);
    cofferOk(['-r', repo, 'check'], { env: azureEnv() });
  });

  it("leaves exactly restic's layout in the container", async () => {
    const names = await blobNames('coffer-rt/');
    expect(names.filter((n) => !LAYOUT.test(n))).toEqual([]);
    expect(names.filter((n) => n.startsWith('snapshots/'))).toHaveLength(2);
    expect(names.filter((n) => n.startsWith('keys/'))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith('data/')).length).toBeGreaterThanOrEqual(2);
    expect(names).toContain('config');
  });

  it('a wrong key from the CLI fails fast with the reason', () => {
    const r = cofferOk(['-r', `azure:${CONTAINER}:/coffer-rt`, 'snapshots'], { env: { ...azureEnv(), AZURE_ACCOUNT_KEY: Buffer.from('wrong').toString('base64') } }, 1);
    expect(r.stderr).toMatch(/403/);
    expect(r.stderr).toMatch(/check the account name and key/);
  });
});

describe.skipIf(!azurite)('restic 0.14 and coffer share repositories on Azure', () => {
  let forwarder: FlakyProxy | null = null;

  beforeAll(async () => {
    if (!requireRestic()) return;
    try {
      forwarder = await startFlakyProxy(new URL(azurite!.blobEndpoint).origin, NO_FAULTS, { port: EMULATOR_PORT });
    } catch (err) {
      unavailable(`port ${EMULATOR_PORT} (where restic looks for the storage emulator) is taken: ${(err as Error).message}`);
    }
  });

  afterAll(async () => {
    await forwarder?.stop();
  });

  it('restic checks and restores what coffer wrote', async (ctx) => {
    if (!forwarder) return ctx.skip();
    const repo = `azure:${CONTAINER}:/coffer-rt`;
    await resticAsync(['-r', repo, 'check', '--read-data']);
    const target = path.join(work, 'restore-by-restic');
    await resticAsync(['-r', repo, 'restore', 'latest', '--target', target]);
    expect(manifest(path.join(target, src))).toEqual(manifest(src));
  });

  it('coffer checks, restores and extends what restic wrote', async (ctx) => {
    if (!forwarder) return ctx.skip();
    const repo = `azure:${CONTAINER}:/restic-rt`;
    await resticAsync(['-r', repo, 'init', '--repository-version', '2']);
    await resticAsync(['-r', repo, 'backup', src]);
    const restic = await blobNames('restic-rt/');
    expect(restic.filter((n) => !LAYOUT.test(n))).toEqual([]);
    // The CLI runs synchronously while the forwarder is idle: coffer talks to Azurite directly.
    cofferOk(['-r', repo, 'check', '--read-data'], { env: azureEnv() });
    const target = path.join(work, 'restore-restic-repo');
    cofferOk(['-r', repo, 'restore', 'latest', '--target', target], { env: azureEnv() });
    expect(manifest(path.join(target, src))).toEqual(manifest(src));
    const again = lastJson(cofferOk(['-r', repo, '--json', 'backup', src], { env: azureEnv() }).stdout);
    expect(again['data_blobs']).toBe(0);
    await resticAsync(['-r', repo, 'check', '--read-data']);
  });
});
