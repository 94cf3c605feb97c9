import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backendSuite } from './backend.suite.js';
import { LocalBackend } from './local.js';

async function fresh(): Promise<LocalBackend> {
  const b = new LocalBackend(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-local-')), 'repo'));
  await b.create();
  return b;
}

backendSuite('local', fresh);

describe('LocalBackend specifics', () => {
  it("uses restic's layout: packs under data/XX, other types in their folders", async () => {
    const b = await fresh();
    const id = 'ab' + '0'.repeat(62);
    await b.save({ type: 'pack', name: id }, Buffer.from('x'));
    expect(fs.existsSync(path.join(b.location, 'data', 'ab', id))).toBe(true);
    for (const d of ['keys', 'locks', 'snapshots', 'index', 'data/00', 'data/ff']) expect(fs.existsSync(path.join(b.location, d))).toBe(true);
  });

  it('leaves no temporary file behind and skips foreign names when listing', async () => {
    const b = await fresh();
    const id = 'cd' + '1'.repeat(62);
    await b.save({ type: 'snapshot', name: id }, Buffer.from('y'));
    fs.writeFileSync(path.join(b.location, 'snapshots', 'not-an-id'), 'junk');
    const names: string[] = [];
    for await (const f of b.list('snapshot')) names.push(f.name);
    expect(names).toEqual([id]);
    expect(fs.readdirSync(path.join(b.location, 'snapshots')).filter((n) => n.startsWith('.tmp'))).toEqual([]);
  });
});
