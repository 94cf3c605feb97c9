/**
 * The one error type of backup files. Import rejections carry a `reason` the adapters can map
 * (every one is the uploader's fault: HTTP 400), and a message that names the offending entry.
 */
import { RepoError } from '../errors.js';

export const BACKUP_FILE_REASONS = [
  /** Not a ZIP at all (no end-of-central-directory record, bad signatures). */
  'not-a-zip',
  /** A ZIP whose bytes end early: data or directory records past the end of the file. */
  'truncated',
  /** A ZIP structure that yauzl refuses (bad extra fields, multi-disk, ...). */
  'corrupt',
  'manifest-missing',
  'manifest-invalid',
  /** An entry name that could escape the target: `..`, absolute, backslash, NUL, empty or `.` components, bad UTF-8. */
  'unsafe-path',
  /** A symlink whose target is absolute or climbs above the target directory (also through other symlinks). */
  'symlink-escape',
  'duplicate-entry',
  /** An entry in the ZIP that the manifest does not list. */
  'unexpected-entry',
  /** A file or symlink the manifest lists that is not in the ZIP. */
  'missing-entry',
  /** An entry whose kind (file, directory, symlink) differs from the manifest's. */
  'type-mismatch',
  'size-mismatch',
  'checksum-mismatch',
  'too-many-entries',
  'too-large',
  /** An entry expanding more than `maxRatio` times: a zip bomb. */
  'compression-ratio',
  'encrypted',
  'unsupported-compression',
  /** The target directory does not exist, is not a directory, or is not empty. */
  'bad-target',
  /** Export: a snapshot entry name a ZIP cannot carry faithfully (backslash, not valid Unicode, name clash). */
  'unsupported-name',
] as const;

export type BackupFileReason = (typeof BACKUP_FILE_REASONS)[number];

/** A backup file was refused (import) or a snapshot cannot be written as one (export). */
export class BackupFileError extends RepoError {
  override readonly code = 'BACKUP_FILE';
  constructor(readonly reason: BackupFileReason, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
