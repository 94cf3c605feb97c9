/**
 * A backend whose provider module loads on first use. Every CLI command imports the registry, and
 * an object-storage SDK costs 150–400 ms to load: a local repository should not pay for S3. The
 * location and capabilities are known without the SDK, and the options are validated before this
 * is built, so bad credentials still fail when the backend is opened.
 */
import type { Backend, BackendCapabilities, FileInfo, FileType, Handle } from './backend.js';

export class LazyBackend implements Backend {
  private inner: Promise<Backend> | null = null;

  constructor(
    readonly location: string,
    private readonly caps: BackendCapabilities,
    private readonly open: () => Promise<Backend>,
  ) {}

  private backend(): Promise<Backend> {
    return (this.inner ??= this.open());
  }

  capabilities(): BackendCapabilities {
    return this.caps;
  }

  async create(): Promise<void> {
    return (await this.backend()).create();
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    return (await this.backend()).save(h, data);
  }

  async saveFile(h: Handle, file: string): Promise<void> {
    return (await this.backend()).saveFile(h, file);
  }

  async load(h: Handle, offset?: number, length?: number, into?: Uint8Array): Promise<Buffer> {
    return (await this.backend()).load(h, offset, length, into);
  }

  async stat(h: Handle): Promise<FileInfo> {
    return (await this.backend()).stat(h);
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    yield* (await this.backend()).list(type);
  }

  async remove(h: Handle): Promise<void> {
    return (await this.backend()).remove(h);
  }

  async close(): Promise<void> {
    // Never loaded: nothing to release, and no reason to load the SDK now.
    if (this.inner === null) return;
    return (await this.inner).close();
  }
}
