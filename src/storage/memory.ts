import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import {
  AlreadyExistsError,
  type Backend,
  type BackendCapabilities,
  type FileInfo,
  type FileType,
  type Handle,
  NotFoundError,
  ShortReadError,
  StorageError,
  describeHandle,
} from './backend.js';

/**
 * An in-memory backend for tests. It is strict rather than forgiving: it refuses overwrites and
 * checks that every non-config file's name is the SHA-256 of its content, as the format requires.
 */
export class MemoryBackend implements Backend {
  readonly location = 'memory:';
  private readonly files = new Map<string, Buffer>();

  capabilities(): BackendCapabilities {
    return { connections: 4 };
  }

  private key(h: Handle): string {
    return h.type === 'config' ? 'config' : `${h.type}/${h.name}`;
  }

  async create(): Promise<void> {}

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const key = this.key(h);
    if (this.files.has(key)) throw new AlreadyExistsError(`${describeHandle(h)} already exists`);
    if (h.type !== 'config' && h.type !== 'key') {
      const digest = createHash('sha256').update(data).digest('hex');
      if (digest !== h.name) throw new StorageError(`${describeHandle(h)}: name does not match content hash ${digest}`);
    }
    this.files.set(key, Buffer.from(data));
  }

  async saveFile(h: Handle, file: string): Promise<void> {
    await this.save(h, await readFile(file));
    await rm(file, { force: true });
  }

  async load(h: Handle, offset = 0, length?: number, into?: Uint8Array): Promise<Buffer> {
    const data = this.files.get(this.key(h));
    if (!data) throw new NotFoundError(`${describeHandle(h)} does not exist`);
    const end = length === undefined ? data.length : offset + length;
    if (end > data.length) throw new ShortReadError(`${describeHandle(h)}: wanted ${end - offset} bytes at ${offset}`);
    if (!into) return Buffer.from(data.subarray(offset, end));
    const view = Buffer.from(into.buffer, into.byteOffset, end - offset);
    data.copy(view, 0, offset, end);
    return view;
  }

  async stat(h: Handle): Promise<FileInfo> {
    const data = this.files.get(this.key(h));
    if (!data) throw new NotFoundError(`${describeHandle(h)} does not exist`);
    return { name: h.name, size: data.length };
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    const prefix = type === 'config' ? 'config' : `${type}/`;
    for (const [key, data] of [...this.files]) {
      if (type === 'config' ? key === 'config' : key.startsWith(prefix)) {
        yield { name: type === 'config' ? 'config' : key.slice(prefix.length), size: data.length };
      }
    }
  }

  async remove(h: Handle): Promise<void> {
    this.files.delete(this.key(h));
  }

  async close(): Promise<void> {}
}
