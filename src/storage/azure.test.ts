import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AccountSASPermissions, BlobServiceClient, StorageSharedKeyCredential, generateAccountSASQueryParameters } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { startAzurite } from '../../test/support/services.js';
import { type FaultRates, type FlakyProxy, NO_FAULTS, startFlakyProxy } from '../../test/support/flaky-azure-proxy.js';
import { AzureBackend } from './azure.js';
import { type AzureConfig, type AzureRetrySettings, parseAzureLocation, resolveAzureConfig } from './azure-config.js';
import { AlreadyExistsError, NotFoundError, StorageError } from './backend.js';
import { backendSuite } from './backend.suite.js';
import { openBackend } from './registry.js';

const azurite = await startAzurite();
afterAll(async () => {
  await azurite?.stop();
});

const CONTAINER = 'coffer-suite';
let runs = 0;

function config(over: Partial<AzureConfig> = {}): AzureConfig {
  if (!azurite) throw new Error('Azurite is not running');
  return {
    container: CONTAINER,
    prefix: `run-${process.pid}-${Date.now()}-${runs++}/repo`,
    accountUrl: azurite.blobEndpoint,
    auth: { kind: 'shared-key', accountName: azurite.accountName, accountKey: azurite.accountKey },
    connections: 5,
    ...over,
  };
}

/** Short delays: the faults below are injected by the hundred and the test should not sleep for minutes. */
const QUICK_RETRY: AzureRetrySettings = { maxTries: 8, retryDelayMs: 10, maxRetryDelayMs: 100, tryTimeoutMs: 30_000 };

function named(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function blobNames(container: string, prefix: string): Promise<string[]> {
  const service = BlobServiceClient.fromConnectionString(azurite!.connectionString);
  const out: string[] = [];
  for await (const b of service.getContainerClient(container).listBlobsFlat({ prefix })) out.push(b.name.slice(prefix.length));
  return out.sort();
}

describe('azure location and options', () => {
  it("parses restic's azure:container:/path and cleans the path as restic does", () => {
    expect(parseAzureLocation('my-container:/')).toEqual({ container: 'my-container', prefix: '' });
    expect(parseAzureLocation('my-container:')).toEqual({ container: 'my-container', prefix: '' });
    expect(parseAzureLocation('my-container:/prefix/directory')).toEqual({ container: 'my-container', prefix: 'prefix/directory' });
    expect(parseAzureLocation('my-container:/prefix/directory/')).toEqual({ container: 'my-container', prefix: 'prefix/directory' });
    expect(parseAzureLocation('my-container:prefix//a/./b/../c')).toEqual({ container: 'my-container', prefix: 'prefix/a/c' });
    expect(parseAzureLocation('abc:/../x')).toEqual({ container: 'abc', prefix: 'x' });
  });

  it('rejects malformed locations with a reason', () => {
    expect(() => parseAzureLocation('my-container')).toThrow(/":" after the container is missing/);
    expect(() => parseAzureLocation('My_Container:/x')).toThrow(/container name "My_Container" is invalid/);
    expect(() => parseAzureLocation('ab:/x')).toThrow(/invalid/);
    expect(() => parseAzureLocation('abc:../up')).toThrow(/leaves the container/);
  });

  it("takes restic's options and environment variables, options first, and never shows a credential", () => {
    const env = { AZURE_ACCOUNT_NAME: 'envacct', AZURE_ACCOUNT_KEY: 'ZW52a2V5', AZURE_ENDPOINT_SUFFIX: 'core.chinacloudapi.cn' };
    const fromEnv = resolveAzureConfig('c0ntainer:/r', {}, env);
    expect(fromEnv.accountUrl).toBe('https://envacct.blob.core.chinacloudapi.cn');
    expect(fromEnv.auth).toEqual({ kind: 'shared-key', accountName: 'envacct', accountKey: 'ZW52a2V5' });
    expect(fromEnv.connections).toBe(5);
    const fromOptions = resolveAzureConfig('c0ntainer:/r', { 'azure.account-name': 'optacct', 'azure.account-key': 'b3B0a2V5', 'azure.connections': '9' }, env);
    expect(fromOptions.accountUrl).toBe('https://optacct.blob.core.chinacloudapi.cn');
    expect(fromOptions.connections).toBe(9);
    const sas = resolveAzureConfig('c0ntainer:/', { 'azure.account-sas': '?sv=2022&sig=abc', 'azure.endpoint': 'http://127.0.0.1:10000/devstoreaccount1/' }, {});
    expect(sas.auth).toEqual({ kind: 'sas', sas: 'sv=2022&sig=abc' });
    expect(sas.accountUrl).toBe('http://127.0.0.1:10000/devstoreaccount1');
    expect(resolveAzureConfig('c0ntainer:/', {}, { ...env, COFFER_AZURE_ENDPOINT: 'http://h:1/acct' }).accountUrl).toBe('http://h:1/acct');
    const b = openBackend('azure:c0ntainer:/some/repo', { 'azure.account-name': 'a', 'azure.account-key': 'c2VjcmV0LWtleQ==' }, {});
    expect(b.location).toBe('azure:c0ntainer:/some/repo');
    expect(b.capabilities().connections).toBe(5);
  });

  it('names what is missing or wrong in the options', () => {
    expect(() => resolveAzureConfig('c0ntainer:/', {}, {})).toThrow(/no credentials/);
    expect(() => resolveAzureConfig('c0ntainer:/', { 'azure.account-key': 'a2V5' }, {})).toThrow(/no account name/);
    expect(() => resolveAzureConfig('c0ntainer:/', { 'azure.account-sas': 'sig=x' }, {})).toThrow(/no account name .* and no endpoint/);
    expect(() => resolveAzureConfig('c0ntainer:/', { 'azure.account-sas': 'sig=x', 'azure.endpoint': 'ftp://x' }, {})).toThrow(/http or https/);
    expect(() => resolveAzureConfig('c0ntainer:/', { 'azure.account-sas': 'sig=x', 'azure.endpoint': 'http://x/acct?sig=y' }, {})).toThrow(/without query/);
    expect(() => resolveAzureConfig('c0ntainer:/', { 'azure.account-sas': 'sig=x', 'azure.endpoint': 'http://x/a', 'azure.connections': '0' }, {})).toThrow(/azure.connections "0"/);
  });
});

if (azurite) {
  backendSuite('azure (Azurite)', async () => {
    const b = new AzureBackend(config());
    await b.create();
    return b;
  });

  describe('AzureBackend on Azurite', () => {
    it("writes restic's layout under the prefix, with no directory blobs", async () => {
      const cfg = config();
      const b = new AzureBackend(cfg);
      await b.create();
      const pack = Buffer.from('a pack');
      const key = Buffer.from('a key');
      await b.save({ type: 'config', name: '' }, Buffer.from('cfg'));
      await b.save({ type: 'pack', name: named(pack) }, pack);
      await b.save({ type: 'key', name: named(key) }, key);
      expect(await blobNames(CONTAINER, `${cfg.prefix}/`)).toEqual(['config', `data/${named(pack).slice(0, 2)}/${named(pack)}`, `keys/${named(key)}`].sort());
    });

    it('creates a missing container, and create() is idempotent', async () => {
      const container = `fresh-${randomBytes(4).toString('hex')}`;
      const b = new AzureBackend(config({ container, prefix: '' }));
      await expect(b.stat({ type: 'config', name: '' })).rejects.toBeInstanceOf(NotFoundError);
      await b.create();
      await b.create();
      await b.save({ type: 'config', name: '' }, Buffer.from('root'));
      expect(await blobNames(container, '')).toEqual(['config']);
    });

    it('stores a multi-block file with saveFile and reads any range of it', async () => {
      const b = new AzureBackend(config());
      await b.create();
      const data = randomBytes(9 * 1024 * 1024 + 123);
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-azure-')), 'pack');
      fs.writeFileSync(file, data);
      const id = named(data);
      await b.saveFile({ type: 'pack', name: id }, file);
      expect(fs.existsSync(file)).toBe(false);
      expect((await b.stat({ type: 'pack', name: id })).size).toBe(data.length);
      expect((await b.load({ type: 'pack', name: id })).equals(data)).toBe(true);
      expect((await b.load({ type: 'pack', name: id }, 5 * 1024 * 1024 - 7, 1000)).equals(data.subarray(5 * 1024 * 1024 - 7, 5 * 1024 * 1024 + 993))).toBe(true);
      expect((await b.load({ type: 'pack', name: id }, data.length - 10)).equals(data.subarray(data.length - 10))).toBe(true);
      expect((await b.load({ type: 'pack', name: id }, data.length)).length).toBe(0);
    });

    it('a wrong account key is a clear 403 AuthenticationFailed error, at once', async () => {
      const b = new AzureBackend(config({ auth: { kind: 'shared-key', accountName: azurite!.accountName, accountKey: Buffer.from('not the key').toString('base64') } }));
      const err = await b.create().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      const message = (err as Error).message;
      expect(message).toMatch(/403/);
      expect(message).toMatch(/AuthenticationFailed|AuthorizationFailure/);
      expect(message).toContain(`container ${CONTAINER}`);
      expect(message).not.toContain(Buffer.from('not the key').toString('base64'));
      await expect(b.load({ type: 'config', name: '' })).rejects.toThrow(/access denied.*check the account name and key/);
    });

    it('works with a SAS token instead of the account key, and a read-only SAS cannot write', async () => {
      const key = new StorageSharedKeyCredential(azurite!.accountName, azurite!.accountKey);
      const sas = (permissions: string): string =>
        generateAccountSASQueryParameters(
          { expiresOn: new Date(Date.now() + 3600_000), permissions: AccountSASPermissions.parse(permissions), resourceTypes: 'sco', services: 'b' },
          key,
        ).toString();
      const cfg = config({ auth: { kind: 'sas', sas: sas('rwdlc') } });
      const b = new AzureBackend(cfg);
      await b.create();
      const data = Buffer.from('via sas');
      await b.save({ type: 'key', name: named(data) }, data);
      expect((await b.load({ type: 'key', name: named(data) })).toString()).toBe('via sas');
      const readOnly = new AzureBackend({ ...cfg, auth: { kind: 'sas', sas: sas('rl') } });
      expect((await readOnly.load({ type: 'key', name: named(data) })).toString()).toBe('via sas');
      const err = await readOnly.save({ type: 'key', name: named(Buffer.from('no')) }, Buffer.from('no')).then(() => null, (e: unknown) => e as Error);
      expect(err?.message).toMatch(/403/);
      expect(err?.message).not.toMatch(/sig=/);
    });

    it('a missing blob on a missing container says which one', async () => {
      const b = new AzureBackend(config({ container: 'never-created' }));
      await expect(b.load({ type: 'config', name: '' })).rejects.toBeInstanceOf(NotFoundError);
      await expect(b.save({ type: 'config', name: '' }, Buffer.from('x'))).rejects.toThrow(/never-created/);
    });
  });

  describe('AzureBackend behind a faulty network', () => {
    let proxy: FlakyProxy;
    const FAULTS: FaultRates = { busy: 0.08, throttled: 0.05, dropped: 0.06, lostAnswer: 0.06, cutBody: 0.1 };

    afterAll(async () => {
      await proxy?.stop();
    });

    backendSuite('azure through a proxy failing a quarter of requests', async () => {
      proxy ??= await startFlakyProxy(new URL(azurite.blobEndpoint).origin, FAULTS, { seed: 7 });
      const b = new AzureBackend(config({ accountUrl: `${proxy.url}/${azurite.accountName}` }), QUICK_RETRY);
      await b.create();
      return b;
    });

    async function behindProxy(retry: AzureRetrySettings = QUICK_RETRY): Promise<AzureBackend> {
      proxy ??= await startFlakyProxy(new URL(azurite!.blobEndpoint).origin, FAULTS, { seed: 7 });
      proxy.setRates(NO_FAULTS);
      const b = new AzureBackend(config({ accountUrl: `${proxy.url}/${azurite!.accountName}` }), retry);
      await b.create();
      return b;
    }

    it('a save whose answer was lost is retried and recognised as its own, not reported as a collision', async () => {
      const b = await behindProxy();
      const small = Buffer.from('small file, single put');
      proxy.forceNext('lostAnswer');
      await b.save({ type: 'snapshot', name: named(small) }, small);
      expect((await b.load({ type: 'snapshot', name: named(small) })).equals(small)).toBe(true);
      const big = randomBytes(4 * 1024 * 1024 + 1);
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-azure-')), 'pack');
      fs.writeFileSync(file, big);
      // Two staged blocks, then the commit: its answer is lost.
      proxy.forceNext('forwarded', 'forwarded', 'lostAnswer');
      await b.saveFile({ type: 'pack', name: named(big) }, file);
      expect((await b.load({ type: 'pack', name: named(big) })).equals(big)).toBe(true);
      await expect(b.save({ type: 'snapshot', name: named(small) }, small)).rejects.toBeInstanceOf(AlreadyExistsError);
      expect(proxy.counts.lostAnswer).toBeGreaterThanOrEqual(2);
    });

    it('retries 503 ServerBusy, 429 and dropped connections, and resumes a download cut mid-body', async () => {
      const b = await behindProxy();
      const data = randomBytes(300_000);
      proxy.forceNext('busy', 'throttled', 'dropped', 'busy');
      await b.save({ type: 'index', name: named(data) }, data);
      proxy.forceNext('cutBody', 'cutBody');
      expect((await b.load({ type: 'index', name: named(data) })).equals(data)).toBe(true);
      proxy.forceNext('throttled', 'cutBody');
      expect((await b.load({ type: 'index', name: named(data) }, 1000, 200_000)).equals(data.subarray(1000, 201_000))).toBe(true);
    });

    it('gives up with a clear error when the service stays busy, and does not wait forever for a silent one', async () => {
      const b = await behindProxy({ maxTries: 3, retryDelayMs: 10, maxRetryDelayMs: 50, tryTimeoutMs: 500 });
      const data = Buffer.from('never stored');
      proxy.forceNext('busy', 'busy', 'busy');
      await expect(b.save({ type: 'lock', name: named(data) }, data)).rejects.toThrow(/cannot save blob .*locks\/[0-9a-f]{64} in container coffer-suite: 503 ServerBusy/);
      proxy.forceNext('silent', 'silent', 'silent');
      await expect(b.stat({ type: 'lock', name: named(data) })).rejects.toThrow(/TIMEOUT/);
    });

    it('moves many files with correct bytes while every kind of fault happens', async () => {
      proxy ??= await startFlakyProxy(new URL(azurite.blobEndpoint).origin, FAULTS, { seed: 7 });
      const b = new AzureBackend(config({ accountUrl: `${proxy.url}/${azurite.accountName}` }), QUICK_RETRY);
      await b.create();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-azure-flaky-'));
      const files = Array.from({ length: 24 }, (_, i) => randomBytes(i % 4 === 0 ? 5 * 1024 * 1024 + i : 1000 + i * 997));
      await Promise.all(
        files.map(async (data, i) => {
          if (i % 2 === 0) {
            const file = path.join(dir, `f${i}`);
            fs.writeFileSync(file, data);
            await b.saveFile({ type: 'pack', name: named(data) }, file);
          } else await b.save({ type: 'pack', name: named(data) }, data);
        }),
      );
      for (const data of files) {
        expect((await b.load({ type: 'pack', name: named(data) })).equals(data)).toBe(true);
        expect((await b.load({ type: 'pack', name: named(data) }, 100, 500)).equals(data.subarray(100, 600))).toBe(true);
      }
      const listed: string[] = [];
      for await (const f of b.list('pack')) listed.push(f.name);
      expect(listed.sort()).toEqual(files.map(named).sort());
      // Saving again is still refused, faults or not.
      await expect(b.save({ type: 'pack', name: named(files[1]!) }, files[1]!)).rejects.toBeInstanceOf(AlreadyExistsError);
      for (const data of files) await b.remove({ type: 'pack', name: named(data) });
      for await (const f of b.list('pack')) throw new Error(`${f.name} survived remove`);
      for (const kind of ['busy', 'throttled', 'dropped', 'lostAnswer', 'cutBody'] as const) expect(proxy.counts[kind], kind).toBeGreaterThan(0);
      proxy.setRates(NO_FAULTS);
    });
  });
}
