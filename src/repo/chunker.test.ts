import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AVG_CHUNK,
  Chunker,
  MASK_LOOSE,
  MASK_STRICT,
  MAX_CHUNK,
  MIN_CHUNK,
  chunkFileSync,
  chunkStream,
  gearTable,
} from './chunker.js';

const POL = '25b468838dcb75';
const MiB = 1024 * 1024;

/** Reproducible pseudo-random bytes: AES-128-CTR keystream under a key derived from the seed. */
function randomBytesSeeded(n: number, seed: number): Buffer {
  const key = createHash('sha256').update(`chunker-test-${seed}`).digest().subarray(0, 16);
  const c = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(n)), c.final()]);
}

function xorshift32(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

function cutsOfBuffer(data: Uint8Array, chunker: Chunker): number[] {
  const sizes: number[] = [];
  for (let s = 0; s < data.length; ) {
    const n = chunker.nextCut(data, s, data.length, true);
    sizes.push(n);
    s += n;
  }
  return sizes;
}

/** The specification, one byte at a time and with no word tricks, to hold the fast path against. */
function referenceCuts(data: Uint8Array, pol: string): number[] {
  const g = gearTable(pol);
  const sizes: number[] = [];
  let start = 0;
  while (start < data.length) {
    let n = Math.min(data.length - start, MAX_CHUNK);
    if (n > MIN_CHUNK) {
      let h = 0;
      for (let i = MIN_CHUNK; i < n; i++) {
        h = ((h << 1) + g[data[start + i]!]!) | 0;
        if ((h & (i < AVG_CHUNK ? MASK_STRICT : MASK_LOOSE)) === 0) {
          n = i + 1;
          break;
        }
      }
    }
    sizes.push(n);
    start += n;
  }
  return sizes;
}

const tmp = mkdtempSync(join(tmpdir(), 'coffer-chunker-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let fileCounter = 0;

function cutsOfFile(data: Uint8Array, chunker: Chunker): number[] {
  const path = join(tmp, `f${fileCounter++}`);
  writeFileSync(path, data);
  const fd = openSync(path, 'r');
  try {
    const sizes: number[] = [];
    let off = 0;
    for (const c of chunkFileSync(fd, chunker)) {
      // The view is only valid until the next iteration, so check its content now.
      expect(Buffer.compare(c, data.subarray(off, off + c.length))).toBe(0);
      off += c.length;
      sizes.push(c.length);
    }
    return sizes;
  } finally {
    closeSync(fd);
  }
}

async function* pieces(data: Uint8Array, sizes: () => number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < data.length; ) {
    const n = Math.min(sizes(), data.length - off);
    yield data.subarray(off, off + n);
    off += n;
  }
}

async function collectStream(stream: AsyncIterable<Uint8Array>, chunker: Chunker): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of chunkStream(stream, chunker)) out.push(c);
  return out;
}

/** Piece sizes log-uniform in [1, 3 MiB]: many tiny pieces and some larger than MAX_CHUNK's share. */
function randomPieceSizes(seed: number): () => number {
  const r = xorshift32(seed);
  return () => Math.max(1, Math.floor(Math.exp(r() * Math.log(3 * MiB))));
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('gear table', () => {
  it('is deterministic and keyed by the polynomial value', () => {
    expect(gearTable(POL)).toEqual(gearTable(POL));
    expect(gearTable(POL)).toEqual(gearTable('0025B468838DCB75'));
    expect(gearTable(POL)).not.toEqual(gearTable('3dea92648f6e83'));
    // Frozen format: changing the derivation would re-cut every existing repository.
    expect(Buffer.from(gearTable(POL).buffer).subarray(0, 16).toString('hex')).toBe(
      'f344e37a05e1872c597f188a4c03979e',
    );
  });

  it('rejects malformed polynomials', () => {
    for (const bad of ['', 'xyz', '0', '0x25b468838dcb75', '1'.repeat(17)]) {
      expect(() => new Chunker(bad)).toThrow(/polynomial/);
    }
  });
});

describe('Chunker', () => {
  const data = randomBytesSeeded(20 * MiB + 12345, 1);
  const chunker = new Chunker(POL);
  const cuts = cutsOfBuffer(data, chunker);

  it('matches the byte-at-a-time reference at every alignment', () => {
    const ref = referenceCuts(data, POL);
    expect(cuts).toEqual(ref);
    for (const shift of [1, 2, 3]) {
      const shifted = data.subarray(shift, shift + 10 * MiB);
      expect(cutsOfBuffer(shifted, chunker)).toEqual(referenceCuts(shifted, POL));
    }
  });

  it('is deterministic across calls and instances', () => {
    expect(cutsOfBuffer(data, chunker)).toEqual(cuts);
    expect(cutsOfBuffer(data, new Chunker(POL))).toEqual(cuts);
    expect(cutsOfBuffer(Buffer.from(data), new Chunker(POL))).toEqual(cuts);
  });

  it('respects the size bounds and covers the input exactly', () => {
    expect(cuts.reduce((a, b) => a + b, 0)).toBe(data.length);
    for (const [i, n] of cuts.entries()) {
      expect(n).toBeLessThanOrEqual(MAX_CHUNK);
      if (i < cuts.length - 1) expect(n).toBeGreaterThan(MIN_CHUNK);
    }
    const mean = (data.length - cuts.at(-1)!) / (cuts.length - 1);
    expect(mean).toBeGreaterThan(0.8 * MiB);
    expect(mean).toBeLessThan(1.3 * MiB);
  });

  it('cuts identically from a buffer, a file and a stream of odd-size pieces', async () => {
    expect(cutsOfFile(data, chunker)).toEqual(cuts);
    for (const seed of [7, 8]) {
      const chunks = await collectStream(pieces(data, randomPieceSizes(seed)), chunker);
      expect(chunks.map((c) => c.length)).toEqual(cuts);
      expect(Buffer.concat(chunks).equals(data)).toBe(true);
    }
    // One piece larger than chunkStream's internal buffer.
    const whole = await collectStream(pieces(data, () => data.length), chunker);
    expect(whole.map((c) => c.length)).toEqual(cuts);
    const small = data.subarray(0, 3 * MiB);
    const oneByte = await collectStream(pieces(small, () => 1), chunker);
    expect(oneByte.map((c) => c.length)).toEqual(cutsOfBuffer(small, chunker));
  });

  it('yields owned buffers from streams', async () => {
    const chunks = await collectStream(pieces(data, () => 64 * 1024), chunker);
    const hashes = chunks.map(sha);
    // Later chunks must not have overwritten earlier ones through a shared backing buffer.
    expect(chunks.map(sha)).toEqual(hashes);
    let off = 0;
    for (const c of chunks) {
      expect(c.equals(data.subarray(off, off + c.length))).toBe(true);
      off += c.length;
    }
  });

  it('emits nothing for empty input', async () => {
    expect(chunker.nextCut(new Uint8Array(0), 0, 0, true)).toBe(0);
    expect(cutsOfFile(new Uint8Array(0), chunker)).toEqual([]);
    expect(await collectStream(pieces(new Uint8Array(0), () => 1), chunker)).toEqual([]);
  });

  it('emits input up to MIN_CHUNK as a single chunk', async () => {
    for (const n of [1, 1000, MIN_CHUNK]) {
      const d = data.subarray(0, n);
      expect(cutsOfBuffer(d, chunker)).toEqual([n]);
      expect(cutsOfFile(d, chunker)).toEqual([n]);
      expect((await collectStream(pieces(d, () => 4096), chunker)).map((c) => c.length)).toEqual([n]);
    }
  });

  it('asks for more data only while a cut is undecided', () => {
    const head = data.subarray(0, MIN_CHUNK + 10);
    expect(chunker.nextCut(head, 0, head.length, false)).toBe(0);
    expect(chunker.nextCut(head, 0, head.length, true)).toBe(head.length);
    // With MAX_CHUNK bytes available a cut is always decided.
    expect(chunker.nextCut(data, 0, MAX_CHUNK, false)).toBe(cuts[0]);
    // Offsets into the middle of a buffer behave like a fresh buffer.
    expect(chunker.nextCut(data, cuts[0]!, data.length, false)).toBe(cuts[1]);
  });

  it('cuts differently under a different polynomial', () => {
    const other = cutsOfBuffer(data, new Chunker('3dea92648f6e83'));
    expect(other.reduce((a, b) => a + b, 0)).toBe(data.length);
    expect(other).not.toEqual(cuts);
    const ends = (s: number[]): Set<number> => new Set(s.map((_, i) => s.slice(0, i + 1).reduce((a, b) => a + b, 0)));
    const shared = [...ends(other)].filter((e) => ends(cuts).has(e) && e !== data.length);
    expect(shared).toEqual([]);
  });

  it('is content-defined: an insertion near the start leaves later chunks intact', () => {
    const edited = Buffer.concat([data.subarray(0, 1000), Buffer.from('inserted!'), data.subarray(1000)]);
    const hashesOf = (d: Buffer): string[] => {
      const out: string[] = [];
      let off = 0;
      for (const n of cutsOfBuffer(d, chunker)) {
        out.push(sha(d.subarray(off, off + n)));
        off += n;
      }
      return out;
    };
    const before = hashesOf(data);
    const after = new Set(hashesOf(edited));
    const kept = before.filter((h) => after.has(h)).length;
    expect(before.length).toBeGreaterThan(10);
    expect(kept).toBeGreaterThanOrEqual(before.length - 2);
  });

  it('cuts runs of zeros at MAX_CHUNK', async () => {
    const zeros = new Uint8Array(2 * MAX_CHUNK + 3 * MiB);
    const expected = [MAX_CHUNK, MAX_CHUNK, 3 * MiB];
    expect(cutsOfBuffer(zeros, chunker)).toEqual(expected);
    expect(cutsOfFile(zeros, chunker)).toEqual(expected);
    const chunks = await collectStream(pieces(zeros, randomPieceSizes(3)), chunker);
    expect(chunks.map((c) => c.length)).toEqual(expected);
  });
});
