/**
 * The conformance suite every `Backend` passes (STYLE R10): the contract in backend.ts, checked
 * the same way for each provider. Providers' test files call `backendSuite` with a factory.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AlreadyExistsError, type Backend, type FileType, NotFoundError, ShortReadError } from './backend.js';

function named(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function listNames(b: Backend, type: FileType): Promise<string[]> {
  const out: string[] = [];
  for await (const f of b.list(type)) out.push(f.name);
  return out.sort();
}

export function backendSuite(name: string, make: () => Promise<Backend>): void {
  describe(`Backend conformance: ${name}`, () => {
    it('saves and loads whole files and byte ranges', async () => {
      const b = await make();
      const data = Buffer.from('0123456789abcdef'.repeat(1000));
      const id = named(data);
      await b.save({ type: 'pack', name: id }, data);
      expect((await b.load({ type: 'pack', name: id })).equals(data)).toBe(true);
      expect((await b.load({ type: 'pack', name: id }, 10, 6)).toString()).toBe('abcdef');
      expect((await b.stat({ type: 'pack', name: id })).size).toBe(data.length);
      const into = new Uint8Array(32);
      const view = await b.load({ type: 'pack', name: id }, 0, 16, into);
      expect(view.toString()).toBe('0123456789abcdef');
      expect(view.buffer).toBe(into.buffer);
    });

    it('never replaces a stored file', async () => {
      const b = await make();
      const data = Buffer.from('once');
      const id = named(data);
      await b.save({ type: 'snapshot', name: id }, data);
      await expect(b.save({ type: 'snapshot', name: id }, data)).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await b.load({ type: 'snapshot', name: id })).toString()).toBe('once');
    });

    it('reports missing files and short reads with their own errors', async () => {
      const b = await make();
      const missing = named(Buffer.from('missing'));
      await expect(b.load({ type: 'index', name: missing })).rejects.toBeInstanceOf(NotFoundError);
      await expect(b.stat({ type: 'index', name: missing })).rejects.toBeInstanceOf(NotFoundError);
      const data = Buffer.from('short');
      const id = named(data);
      await b.save({ type: 'index', name: id }, data);
      await expect(b.load({ type: 'index', name: id }, 2, 10)).rejects.toBeInstanceOf(ShortReadError);
    });

    it('lists each type apart, packs across their sub-directories', async () => {
      const b = await make();
      const packs = ['a', 'b', 'c'].map((s) => Buffer.from(`pack ${s}`));
      for (const p of packs) await b.save({ type: 'pack', name: named(p) }, p);
      const key = Buffer.from('{"kdf":"scrypt"}');
      await b.save({ type: 'key', name: named(key) }, key);
      await b.save({ type: 'config', name: '' }, Buffer.from('config'));
      expect(await listNames(b, 'pack')).toEqual(packs.map(named).sort());
      expect(await listNames(b, 'key')).toEqual([named(key)]);
      expect(await listNames(b, 'snapshot')).toEqual([]);
      expect((await b.load({ type: 'config', name: '' })).toString()).toBe('config');
    });

    it('removes files, idempotently', async () => {
      const b = await make();
      const data = Buffer.from('to be removed');
      const id = named(data);
      await b.save({ type: 'lock', name: id }, data);
      await b.remove({ type: 'lock', name: id });
      await b.remove({ type: 'lock', name: id });
      expect(await listNames(b, 'lock')).toEqual([]);
    });

    it('stores a local file with saveFile, consuming it', async () => {
      const b = await make();
      const dir = b.capabilities().tempDir ?? os.tmpdir();
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `suite-${process.pid}-${Date.now()}.tmp`);
      const data = Buffer.from('from a file '.repeat(100));
      fs.writeFileSync(file, data);
      const id = named(data);
      await b.saveFile({ type: 'pack', name: id }, file);
      expect(fs.existsSync(file)).toBe(false);
      expect((await b.load({ type: 'pack', name: id })).equals(data)).toBe(true);
      fs.writeFileSync(file, data);
      await expect(b.saveFile({ type: 'pack', name: id }, file)).rejects.toBeInstanceOf(AlreadyExistsError);
      fs.rmSync(file, { force: true });
    });

    it('has a location that carries no secrets and sane capabilities', async () => {
      const b = await make();
      expect(b.location.length).toBeGreaterThan(0);
      expect(b.capabilities().connections).toBeGreaterThan(0);
      await b.close();
    });
  });
}
