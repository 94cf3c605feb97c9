/**
 * Reads one file, cuts it into chunks, hashes each, and compresses and seals the chunks that are
 * not yet known. It runs inside worker threads (one per core) and, for tiny jobs and tests, inline
 * on the main thread: the same code either way. It never touches the backend: sealed blobs are
 * handed to `emit`, and the pack writer on the main thread decides what is really new.
 */
import { closeSync, fstatSync, openSync, readSync, constants as fsc } from 'node:fs';
import { compressBlob } from './compression.js';
import { CRYPTO_OVERHEAD, type MasterKey, sealInto } from './crypto.js';
import { Chunker, MAX_CHUNK, MIN_CHUNK, chunkFileSync } from './chunker.js';
import { type ID, hashId } from './ids.js';

export interface EmittedBlob {
  id: ID;
  /** Length of the sealed blob: payload + 32 bytes of IV and MAC. */
  sealedLength: number;
  /** Seals the blob into `out` at `offset`; called once, synchronously, by the receiver of `emit`. */
  sealInto(out: Uint8Array, offset: number): void;
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

  /** Allocated on the first large file only: 16 MiB per worker that sees no large file is waste. */
  private get largeBuf(): Buffer {
    return (this.largeBufCache ??= Buffer.allocUnsafeSlow(2 * MAX_CHUNK));
  }

  constructor(
    private readonly key: MasterKey,
    polynomial: string,
    private readonly compress: boolean,
    /** Data blob ids known to exist (repository index) or emitted by this processor. */
    private readonly known: Set<ID>,
  ) {
    this.chunker = new Chunker(polynomial);
  }

  addKnown(ids: Iterable<ID>): void {
    for (const id of ids) this.known.add(id);
  }

  /** Hashes a chunk and emits it sealed unless known; returns its id. */
  chunk(data: Uint8Array, emit: (b: EmittedBlob) => void): ID {
    const id = hashId(data);
    if (!this.known.has(id)) {
      this.known.add(id);
      const compressed = this.compress ? compressBlob(data) : null;
      const payload = compressed ?? data;
      emit({
        id,
        sealedLength: payload.length + CRYPTO_OVERHEAD,
        sealInto: (out, offset) => sealInto(this.key, payload, out, offset),
        uncompressedLength: compressed ? data.length : 0,
        plainLength: data.length,
      });
    }
    return id;
  }

  processFile(path: string, emit: (b: EmittedBlob) => void): FileResult {
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
          return { content: small.length === 0 ? [] : [this.chunk(small, emit)], size: small.length };
        }
        // It grew past one chunk while we read it: start over on the chunking path.
      }
      const content: ID[] = [];
      let total = 0;
      for (const piece of chunkFileSync(fd, this.chunker, this.largeBuf)) {
        content.push(this.chunk(piece, emit));
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
