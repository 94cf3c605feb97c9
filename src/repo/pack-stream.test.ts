import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { zstdCompress } from './compression.js';
import { newMasterKey, seal } from './crypto.js';
import { hashId } from './ids.js';
import { type PackedBlob, encodeHeader } from './pack.js';
import { PackStream, byOffset, cutPieces, expectedPackSize, streamable } from './pack-stream.js';
import { verifyPack } from './pack-verify.js';

const key = newMasterKey();

/** A pack of the given plaintexts (compressed when `compress`), with the index entries for it. */
function makePack(plains: { data: Buffer; compress: boolean; type?: 'data' | 'tree' }[]): { pack: Buffer; blobs: PackedBlob[] } {
  const parts: Buffer[] = [];
  const blobs: PackedBlob[] = [];
  let offset = 0;
  for (const p of plains) {
    const sealed = seal(key, p.compress ? zstdCompress(p.data) : p.data);
    blobs.push({ id: hashId(p.data), type: p.type ?? 'data', offset, length: sealed.length, uncompressedLength: p.compress ? p.data.length : 0 });
    parts.push(sealed);
    offset += sealed.length;
  }
  const header = seal(key, encodeHeader(blobs));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  return { pack: Buffer.concat([...parts, header, len]), blobs };
}

const text = (n: number): Buffer => Buffer.from('lorem ipsum dolor sit amet '.repeat(Math.ceil(n / 27)).slice(0, n));

/** Streams `pack` through a PackStream in the given piece lengths (cycled); returns the verdict. */
function stream(pack: Buffer, blobs: readonly PackedBlob[], lengths: number[], id = hashId(pack)): boolean {
  const s = new PackStream(key, id, pack.length, byOffset(blobs), { buf: Buffer.alloc(0) }, { buf: Buffer.alloc(0) });
  const copy = Buffer.from(pack);
  for (let p = 0, i = 0; p < copy.length; i++) {
    const n = Math.min(lengths[i % lengths.length]!, copy.length - p);
    // A fresh buffer per piece, as slots are: the stream decrypts in place and must not look back.
    s.update(Buffer.from(copy.subarray(p, p + n)), p);
    p += n;
  }
  return s.finish();
}

describe('PackStream', () => {
  const { pack, blobs } = makePack([
    { data: randomBytes(70_000), compress: false },
    { data: text(200_000), compress: true },
    { data: randomBytes(10), compress: false },
    { data: text(5000), compress: true, type: 'tree' },
    { data: randomBytes(150_000), compress: false },
  ]);

  it('accepts a sound pack however it is cut, down to pieces that split IVs and MACs', () => {
    expect(streamable(pack.length, byOffset(blobs))).toBe(true);
    for (const lengths of [[pack.length], [1], [7, 13], [16], [1000], [65_536], [100_000, 3], [17, 4096, 31]]) {
      expect(stream(pack, blobs, lengths)).toBe(true);
    }
    // The pieces check --read-data reads: at blob boundaries where a blob fits.
    for (const piece of [1, 100, 80_000, 1 << 20]) {
      const cuts = cutPieces(byOffset(blobs), pack.length, piece);
      expect(stream(pack, blobs, cuts.map((c) => c.end - c.start))).toBe(true);
    }
  });

  it('rejects a pack with any byte flipped, wherever it is', () => {
    // Every blob's IV, body and MAC, the header and its length field: sampled across the file.
    const positions = new Set<number>([0, 15, 16, 17, pack.length - 1, pack.length - 4, pack.length - 5, pack.length - 40]);
    for (const b of blobs) for (const d of [0, 15, 16, b.length >> 1, b.length - 17, b.length - 16, b.length - 1]) positions.add(b.offset + d);
    for (const at of positions) {
      const bad = Buffer.from(pack);
      bad[at]! ^= 0x04;
      // The name stays that of the sound pack, as a damaged file's does; and with the damaged
      // content's own hash as its name, the blobs and header still give it away.
      for (const lengths of [[pack.length], [7, 13], [50_000]]) {
        expect(stream(bad, blobs, lengths, hashId(pack))).toBe(false);
        expect(stream(bad, blobs, lengths, hashId(bad))).toBe(false);
      }
    }
  });

  it('rejects a pack whose header does not list exactly the index entries', () => {
    const other = makePack([{ data: randomBytes(100), compress: false }]);
    // Same length, another header: sealed with the same key, but listing something else.
    const swapped = makePack([{ data: randomBytes(100), compress: false }]);
    const mixed = Buffer.concat([other.pack.subarray(0, other.blobs[0]!.length), swapped.pack.subarray(swapped.blobs[0]!.length)]);
    expect(stream(mixed, other.blobs, [mixed.length], hashId(mixed))).toBe(false);
    // An index entry for the wrong id.
    const wrongId = blobs.map((b, i) => (i === 2 ? { ...b, id: hashId(Buffer.from('x')) } : b));
    expect(stream(pack, wrongId, [4096])).toBe(false);
  });

  it('rejects pieces out of order, short and long streams', () => {
    const s = new PackStream(key, hashId(pack), pack.length, byOffset(blobs), { buf: Buffer.alloc(0) }, { buf: Buffer.alloc(0) });
    s.update(Buffer.from(pack.subarray(0, 100)), 0);
    s.update(Buffer.from(pack.subarray(200, 300)), 200);
    expect(s.finish()).toBe(false);
    expect(stream(pack.subarray(0, pack.length - 1), blobs, [1000], hashId(pack))).toBe(false);
  });

  it('agrees with the whole-pack verification', () => {
    expect(verifyPack(key, hashId(pack), Buffer.from(pack), blobs, { buf: Buffer.alloc(0) })).toEqual([]);
  });
});

describe('streamable and cutPieces', () => {
  const blob = (offset: number, length: number): PackedBlob => ({ id: '0'.repeat(64), type: 'data', offset, length, uncompressedLength: 0 });

  it('streams only packs whose index entries tile the file', () => {
    const tiled = [blob(0, 100), blob(100, 50)];
    expect(streamable(expectedPackSize(tiled), tiled)).toBe(true);
    expect(streamable(expectedPackSize(tiled) + 1, tiled)).toBe(false);
    expect(streamable(expectedPackSize(tiled), [blob(0, 100), blob(101, 49)])).toBe(false);
    expect(streamable(expectedPackSize(tiled), [blob(10, 100), blob(110, 50)])).toBe(false);
    expect(streamable(36, [])).toBe(false);
  });

  it('cuts at blob boundaries where a blob fits, and splits only larger blobs', () => {
    const sorted = [blob(0, 30), blob(30, 30), blob(60, 250), blob(310, 10)];
    const size = 400;
    const cuts = cutPieces(sorted, size, 100);
    expect(cuts).toEqual([
      { start: 0, end: 60 }, { start: 60, end: 160 }, { start: 160, end: 260 }, { start: 260, end: 320 }, { start: 320, end: 400 },
    ]);
    // Contiguous and bounded for any piece size.
    for (const piece of [1, 7, 64, 1000]) {
      let end = 0;
      for (const c of cutPieces(sorted, size, piece)) {
        expect(c.start).toBe(end);
        expect(c.end - c.start).toBeGreaterThan(0);
        expect(c.end - c.start).toBeLessThanOrEqual(piece);
        end = c.end;
      }
      expect(end).toBe(size);
    }
  });
});
