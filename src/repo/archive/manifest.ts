/**
 * `manifest.json`, the description of a backup file: what it is (format, version), where it came
 * from (snapshot, caller's metadata) and every entry with its size, mode, time and SHA-256.
 *
 * The export announces the ZIP's size before the first byte, but the file digests are known only
 * after the data went out; so the manifest is the ZIP's last entry and its length must not depend
 * on the digest values. It is written as a sequence of chunks (one line per entry) whose lengths
 * are the same with placeholder digests and with real ones: hex digests have a fixed length.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The caller's description of the backup: instance, type, device model/serial/sw_version, backup id, ... */
export type BackupMetadata = { [key: string]: JsonValue };

export const MANIFEST_NAME = 'manifest.json';
export const MANIFEST_FORMAT = 'coffer-backup';
export const MANIFEST_VERSION = 1;

export type ManifestFileType = 'file' | 'dir' | 'symlink';

export interface ManifestFile {
  /** The entry's path relative to the ZIP's root, `/`-separated, without a trailing slash. */
  path: string;
  type: ManifestFileType;
  /** Bytes of content: the file's length, the symlink target's UTF-8 length, 0 for directories. */
  size: number;
  /** Lower-case hex SHA-256 of the content; files only. */
  sha256?: string;
  /** Permission bits as chmod takes them, including setuid/setgid/sticky (0 to 0o7777). */
  mode: number;
  /** RFC 3339 with up to nanoseconds, as the snapshot recorded it. */
  mtime: string;
  /** Symlinks only. */
  target?: string;
}

export interface ManifestSnapshot {
  id: string;
  time: string;
  hostname: string;
  paths: string[];
  tags: string[];
}

/** Where the snapshot's content sits in the ZIP: the folder `content_dir` ('' = the ZIP's root) mirrors `snapshot_root`. */
export interface ManifestLayout {
  content_dir: string;
  snapshot_root: string;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  created_at: string;
  snapshot: ManifestSnapshot;
  metadata: BackupMetadata;
  layout: ManifestLayout;
  files: ManifestFile[];
}

export type ManifestHead = Omit<BackupManifest, 'format' | 'version' | 'files'>;

/** A digest of the right length and alphabet, standing in for one not computed yet. */
export const PLACEHOLDER_SHA256 = '0'.repeat(64);

/** One entry's line, keys in a fixed order so that equal inputs give equal bytes. */
function fileRecord(f: ManifestFile): string {
  return JSON.stringify({
    path: f.path,
    type: f.type,
    size: f.size,
    ...(f.type === 'file' ? { sha256: f.sha256 ?? PLACEHOLDER_SHA256 } : {}),
    mode: f.mode,
    mtime: f.mtime,
    ...(f.type === 'symlink' ? { target: f.target ?? '' } : {}),
  });
}

/** The manifest's text as chunks: a head line, one line per entry, a closing line. */
export function* manifestChunks(head: ManifestHead, files: Iterable<ManifestFile>): Generator<string> {
  const top = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    created_at: head.created_at,
    snapshot: head.snapshot,
    metadata: head.metadata,
    layout: head.layout,
  };
  const opening = JSON.stringify(top);
  yield `${opening.slice(0, -1)},"files":[`;
  let first = true;
  for (const f of files) {
    yield `${first ? '\n' : ',\n'}${fileRecord(f)}`;
    first = false;
  }
  yield '\n]}\n';
}

/** The UTF-8 length of what `manifestChunks` yields. */
export function manifestLength(head: ManifestHead, files: Iterable<ManifestFile>): number {
  let n = 0;
  for (const chunk of manifestChunks(head, files)) n += Buffer.byteLength(chunk);
  return n;
}
