/**
 * A set of blob ids in shared memory, built once on the main thread and read by every file worker
 * without a copy. Each worker used to receive the repository's data blob ids as strings and build
 * its own `Set`: ~110 bytes per id per worker, plus the structured clone on the way (3 MiB per
 * worker for 28,000 blobs, hundreds of MiB for a repository of millions). Here an id costs 64 bytes
 * once: an open-addressing table of 32-byte ids at most half full, hashed by their first bytes
 * (SHA-256 output is uniform already).
 */
import type { ID } from './ids.js';

const ID_BYTES = 32;
/** Capacity (u32), whether the all-zero id is a member (u32): an empty slot is all zeros. */
const HEADER = 8;

export interface IdSet {
  has(id: ID): boolean;
}

export class SharedIdSet implements IdSet {
  private readonly table: Buffer;
  private readonly mask: number;
  private readonly hasZero: boolean;
  private readonly key = Buffer.alloc(ID_BYTES);

  constructor(readonly buffer: SharedArrayBuffer) {
    this.table = Buffer.from(buffer);
    this.mask = this.table.readUInt32LE(0) - 1;
    this.hasZero = this.table.readUInt32LE(4) === 1;
  }

  /** The shared table of `ids` (hex SHA-256 ids; duplicates are fine). */
  static build(ids: readonly ID[]): SharedArrayBuffer {
    let capacity = 16;
    while (capacity < ids.length * 2) capacity *= 2;
    const buffer = new SharedArrayBuffer(HEADER + capacity * ID_BYTES);
    const table = Buffer.from(buffer);
    table.writeUInt32LE(capacity, 0);
    const key = Buffer.alloc(ID_BYTES);
    for (const id of ids) {
      key.write(id, 'hex');
      if (isZero(key, 0)) {
        table.writeUInt32LE(1, 4);
        continue;
      }
      let slot = key.readUInt32LE(0) & (capacity - 1);
      for (;;) {
        const at = HEADER + slot * ID_BYTES;
        if (isZero(table, at)) {
          key.copy(table, at);
          break;
        }
        if (table.compare(key, 0, ID_BYTES, at, at + ID_BYTES) === 0) break;
        slot = (slot + 1) & (capacity - 1);
      }
    }
    return buffer;
  }

  has(id: ID): boolean {
    if (this.key.write(id, 'hex') !== ID_BYTES) return false;
    if (isZero(this.key, 0)) return this.hasZero;
    let slot = this.key.readUInt32LE(0) & this.mask;
    for (;;) {
      const at = HEADER + slot * ID_BYTES;
      if (this.table.compare(this.key, 0, ID_BYTES, at, at + ID_BYTES) === 0) return true;
      if (isZero(this.table, at)) return false;
      slot = (slot + 1) & this.mask;
    }
  }
}

function isZero(buf: Buffer, at: number): boolean {
  for (let i = 0; i < ID_BYTES; i += 4) if (buf.readUInt32LE(at + i) !== 0) return false;
  return true;
}
