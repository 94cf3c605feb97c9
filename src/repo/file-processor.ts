/**
 * Reads one file, cuts it into chunks, hashes each, and compresses and seals the chunks that are
 * not yet known. It runs inside worker threads (one per core) and, for tiny jobs and tests, inline
 * on the main thread: the same code either way. It never touches the backend: sealed blobs are
 * handed to `emit`, and the pack writer on the main thread decides what is really new.
 */
import { closeSync, fstatSync, openSync, readSync, constants as fsc } from 'node:fs';
import { compressInto } from './compression.js';
import { CRYPTO_OVERHEAD, IV_SIZE, type MasterKey, sealInPlace } from './crypto.js';
import { Chunker, FILE_CHUNK_BUFFER, MIN_CHUNK, chunkFileSync } from './chunker.js';
import { type ID, hashId } from './ids.js';
import type { IdSet } from './shared-id-set.js';

/**
 * Where sealed blobs go. `reserve` returns room for at least `maxLength` contiguous bytes (the
 * blob is compressed and sealed right there); `commit` reports what was written.
 */
export interface BlobSink {
  reserve(maxLength: number): { buf: Uint8Array; offset: number };
  commit(blob: EmittedBlob): void;
}

export interface EmittedBlob {
  id: ID;
  /** Where the sealed blob was written (the buffer and offset `reserve` returned). */
  buf: Uint8Array;
  offset: number;
  /** Length of the sealed blob: payload + 32 bytes of IV and MAC. */
  sealedLength: number;
  /** Plaintext length when compressed; 0 when stored uncompressed. */
  uncompressedLength: number;
  plainLength: number;
}

export interface FileResult {
  content: ID[];
  /** Bytes actually read: the file may have changed since it was stat'ed. */
  size: number;
}

export class FileProcessor {
  private readonly chunker: Chunker;
  /** Reused for files smaller than one chunk, the common case by count. */
  private readonly smallBuf = Buffer.allocUnsafeSlow(MIN_CHUNK);
  private largeBufCache: Buffer | undefined;
  /** Ids this processor has emitted: another file may hold the same chunk. */
  private readonly emitted = new Set<ID>();

  /** Allocated on the first large file only: 9 MiB per worker that sees no large file is waste. */
  private get largeBuf(): Buffer {
    return (this.largeBufCache ??= Buffer.allocUnsafeSlow(FILE_CHUNK_BUFFER));
  }

  constructor(
    private readonly key: MasterKey,
    polynomial: string,
    private readonly compress: boolean,
    /** Data blob ids known to exist (the repository index). */
    private readonly known: IdSet,
  ) {
    this.chunker = new Chunker(polynomial);
  }

  /** Hashes a chunk and, unless known, compresses and seals it into the sink; returns its id. */
  chunk(data: Uint8Array, sink: BlobSink): ID {
    const id = hashId(data);
    if (!this.known.has(id) && !this.emitted.has(id)) {
      this.emitted.add(id);
      const { buf, offset } = sink.reserve(data.length + CRYPTO_OVERHEAD);
      const payloadAt = offset + IV_SIZE;
      let length = this.compress ? compressInto(buf.subarray(payloadAt, payloadAt + data.length), data) : -1;
      const compressed = length >= 0;
      if (!compressed) {
        buf.set(data, payloadAt);
        length = data.length;
      }
      const sealedLength = sealInPlace(this.key, buf, offset, length);
      sink.commit({ id, buf, offset, sealedLength, uncompressedLength: compressed ? data.length : 0, plainLength: data.length });
    }
    return id;
  }

  processFile(path: string, sink: BlobSink): FileResult {
    // O_NOATIME spares the inode write a read would cause; it is refused for files we don't own.
    let fd: number;
    try {
      fd = openSync(path, fsc.O_RDONLY | fsc.O_NOATIME);
    } catch {
      fd = openSync(path, fsc.O_RDONLY);
    }
    try {
      const size = fstatSync(fd).size;
      if (size < MIN_CHUNK) {
        const small = this.readSmall(fd);
        if (small) {
          return { content: small.length === 0 ? [] : [this.chunk(small, sink)], size: small.length };
        }
        // It grew past one chunk while we read it: start over on the chunking path.
      }
      const content: ID[] = [];
      let total = 0;
      for (const piece of chunkFileSync(fd, this.chunker, this.largeBuf)) {
        content.push(this.chunk(piece, sink));
        total += piece.length;
      }
      return { content, size: total };
    } finally {
      closeSync(fd);
    }
  }

  /** Reads a whole small file into the reused buffer; null if it turned out not to be small. */
  private readSmall(fd: number): Buffer | null {
    let got = 0;
    for (;;) {
      if (got === this.smallBuf.length) {
        // Probe one more byte: exactly full means it may be larger.
        const probe = Buffer.allocUnsafe(1);
        if (readSync(fd, probe, 0, 1, got) === 0) return this.smallBuf.subarray(0, got);
        return null;
      }
      const n = readSync(fd, this.smallBuf, got, this.smallBuf.length - got, got);
      if (n === 0) return this.smallBuf.subarray(0, got);
      got += n;
    }
  }
}
