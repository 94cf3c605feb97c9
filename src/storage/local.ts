import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
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
import { handlePath, isStorageName, layoutDirs, typeDir } from './layout.js';

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/**
 * A repository in a local directory. Saves go to a temporary name in the target directory, are
 * fsynced, then linked into place (link fails if the name exists, so a file is never replaced) and
 * the directory is fsynced: after a crash a file is either absent or complete.
 */
export class LocalBackend implements Backend {
  readonly location: string;

  constructor(readonly root: string) {
    this.location = path.resolve(root);
  }

  capabilities(): BackendCapabilities {
    return { connections: 2, tempDir: path.join(this.location, 'tmp') };
  }

  private abs(h: Handle): string {
    return path.join(this.location, handlePath(h));
  }

  async create(): Promise<void> {
    await fs.mkdir(this.location, { recursive: true, mode: 0o700 });
    for (const dir of layoutDirs()) await fs.mkdir(path.join(this.location, dir), { recursive: true, mode: 0o700 });
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const target = this.abs(h);
    const dir = path.dirname(target);
    const tmp = path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    let file: fs.FileHandle;
    try {
      file = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    } catch (err) {
      if (errCode(err) === 'ENOENT') {
        // The directory is missing (a repository created by a tool that makes data/XX lazily).
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        file = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      } else throw new StorageError(`cannot save ${describeHandle(h)}: ${String(err)}`, { cause: err });
    }
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      // link(2) refuses to replace an existing file, unlike rename(2).
      await fs.link(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      if (errCode(err) === 'EEXIST') throw new AlreadyExistsError(`${describeHandle(h)} already exists`);
      throw new StorageError(`cannot save ${describeHandle(h)}: ${String(err)}`, { cause: err });
    }
    await fs.rm(tmp, { force: true });
    // Keys and other files are read-only once written, as restic leaves them.
    await fs.chmod(target, 0o400).catch(() => undefined);
    await syncDir(dir);
  }

  async saveFile(h: Handle, file: string): Promise<void> {
    const target = this.abs(h);
    const dir = path.dirname(target);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      // Same filesystem (our tempDir): a hard link publishes the complete, fsynced file atomically
      // and, like save(), never replaces an existing one.
      await fs.link(file, target);
    } catch (err) {
      if (errCode(err) === 'EEXIST') throw new AlreadyExistsError(`${describeHandle(h)} already exists`);
      if (errCode(err) !== 'EXDEV') throw new StorageError(`cannot save ${describeHandle(h)}: ${String(err)}`, { cause: err });
      await this.save(h, await fs.readFile(file));
    }
    await fs.rm(file, { force: true });
    await fs.chmod(target, 0o400).catch(() => undefined);
    await syncDir(dir);
  }

  async load(h: Handle, offset = 0, length?: number, into?: Uint8Array): Promise<Buffer> {
    let file: fs.FileHandle;
    try {
      file = await fs.open(this.abs(h), 'r');
    } catch (err) {
      if (errCode(err) === 'ENOENT') throw new NotFoundError(`${describeHandle(h)} does not exist`, { cause: err });
      throw new StorageError(`cannot read ${describeHandle(h)}: ${String(err)}`, { cause: err });
    }
    try {
      if (length === undefined) {
        const size = (await file.stat()).size;
        length = Math.max(0, size - offset);
      }
      if (into && into.length < length) throw new RangeError(`buffer of ${into.length} bytes cannot hold ${length}`);
      const buf = into ? Buffer.from(into.buffer, into.byteOffset, length) : Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await file.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < length) throw new ShortReadError(`${describeHandle(h)}: wanted ${length} bytes at ${offset}, got ${got}`);
      return buf;
    } finally {
      await file.close();
    }
  }

  async stat(h: Handle): Promise<FileInfo> {
    try {
      const st = await fs.stat(this.abs(h));
      return { name: h.name, size: st.size };
    } catch (err) {
      if (errCode(err) === 'ENOENT') throw new NotFoundError(`${describeHandle(h)} does not exist`, { cause: err });
      throw new StorageError(`cannot stat ${describeHandle(h)}: ${String(err)}`, { cause: err });
    }
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === 'config') {
      try {
        const st = await fs.stat(path.join(this.location, 'config'));
        yield { name: 'config', size: st.size };
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw err;
      }
      return;
    }
    const base = path.join(this.location, typeDir(type));
    const dirs = type === 'pack' ? await readdirOrEmpty(base).then((names) => names.map((n) => path.join(base, n))) : [base];
    for (const dir of dirs) {
      for (const name of await readdirOrEmpty(dir)) {
        if (!isStorageName(name)) continue;
        try {
          const st = await fs.stat(path.join(dir, name));
          if (st.isFile()) yield { name, size: st.size };
        } catch (err) {
          if (errCode(err) !== 'ENOENT') throw err; // removed while listing
        }
      }
    }
  }

  async remove(h: Handle): Promise<void> {
    try {
      await fs.rm(this.abs(h));
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw new StorageError(`cannot remove ${describeHandle(h)}: ${String(err)}`, { cause: err });
    }
  }

  async close(): Promise<void> {}
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}

async function syncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the file itself is already durable.
  } finally {
    await handle?.close();
  }
}
