/**
 * Writing a planned backup file with yazl: STORE only (every size known, so the total is too),
 * entries in plan order, file contents streamed blob by blob, manifest.json last with the digests
 * computed on the way. The stream yields exactly `plan.size` bytes or fails; it never ends short
 * or long, because an HTTP response has already promised that length.
 */
import { Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type EndOptions, ZipFile } from 'yazl';
import { CancelledError, RepoError } from '../errors.js';
import { contentStream } from './content-stream.js';
import { MANIFEST_NAME, type ManifestFile, manifestChunks } from './manifest.js';
import { type ZipPlan, toManifestFile, unixMode } from './plan.js';
import { addBackslashDirectory } from './yazl-backslash.js';

/** Passes bytes through and fails as soon as the count leaves the plan. */
class ExactLength extends Transform {
  private count = 0;
  constructor(private readonly expected: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.expected) cb(new RepoError(`backup file longer than the ${this.expected} bytes planned`));
    else cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.count !== this.expected) cb(new RepoError(`backup file is ${this.count} bytes, ${this.expected} were planned`));
    else cb();
  }
}

// @types/yazl declares end's callback without its argument, the calculated total size.
type EndWithTotal = (options: EndOptions, calculatedTotalSize: (total: number) => void) => void;

/** The backup file as a stream of exactly `plan.size` bytes. */
export function snapshotZipStream(plan: ZipPlan, signal?: AbortSignal): Readable {
  const zip = new ZipFile();
  const output = new ExactLength(plan.size);
  const digests = new Map<string, string>();
  let current: Readable | undefined;
  const fail = (err: Error): void => {
    current?.destroy();
    if (!output.destroyed) output.destroy(err);
  };
  const onAbort = (): void => fail(new CancelledError('export cancelled'));
  zip.on('error', fail);
  output.on('close', () => {
    // The reader went away (or all is done): stop loading blobs for nobody.
    current?.destroy();
    signal?.removeEventListener('abort', onAbort);
  });
  const track = (stream: Readable): Readable => {
    current = stream;
    stream.on('error', fail);
    return stream;
  };

  for (const e of plan.entries) {
    if (e.entryName === undefined) continue;
    const name = e.entryName;
    const common = { mtime: e.mtimeDate, mode: unixMode(e) };
    if (e.type === 'dir') {
      if (name.endsWith('\\')) addBackslashDirectory(zip, name, common);
      else zip.addEmptyDirectory(name, common);
    } else if (e.type === 'symlink') {
      // Info-ZIP's convention: a symlink is an entry with mode S_IFLNK whose data is the target.
      zip.addBuffer(Buffer.from(e.target ?? ''), name, { ...common, compress: false });
    } else {
      zip.addReadStreamLazy(name, { ...common, compress: false, size: e.size }, (cb) => {
        cb(null, track(contentStream(plan.repo, e.content ?? [], e.size, {
          label: e.path,
          signal,
          onDigest: (sha) => digests.set(e.path, sha),
        })));
      });
    }
  }

  const manifest = plan.manifest;
  if (manifest) {
    const created = new Date(manifest.head.created_at);
    // Called by yazl only after every earlier entry is written, so every digest is known.
    zip.addReadStreamLazy(MANIFEST_NAME, { compress: false, size: manifest.size, mtime: created, mode: 0o100644 }, (cb) => {
      function* files(): Generator<ManifestFile> {
        for (const e of plan.entries) {
          const sha = digests.get(e.path);
          if (e.type === 'file' && sha === undefined) throw new RepoError(`no digest for ${e.path}`);
          yield toManifestFile(e, sha);
        }
      }
      const bytes = (function* (): Generator<Buffer> {
        for (const chunk of manifestChunks(manifest.head, files())) yield Buffer.from(chunk);
      })();
      cb(null, track(Readable.from(bytes, { objectMode: false })));
    });
  }

  // Forced ZIP64 end records: yazl's size prediction and its output agree only then (zip-size.ts).
  (zip.end as unknown as EndWithTotal).call(zip, { forceZip64Format: true, comment: '' }, (total) => {
    if (total !== plan.size) fail(new RepoError(`backup file: yazl computes ${total} bytes, ${plan.size} were planned`));
  });
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  (zip.outputStream as Readable).pipe(output);
  return output;
}

/**
 * Writes the backup file to `out` and ends it. On failure `out` is destroyed with the error (an
 * HTTP response is cut off, never completed short).
 */
export async function writeSnapshotZip(plan: ZipPlan, out: NodeJS.WritableStream | Writable, signal?: AbortSignal): Promise<void> {
  await pipeline(snapshotZipStream(plan, signal), out);
}
