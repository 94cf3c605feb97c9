/** Backup files: a snapshot exported as a ZIP that `unzip` opens, and imported back safely. */
export { BackupFileError, BACKUP_FILE_REASONS, type BackupFileReason } from './errors.js';
export {
  type BackupManifest, type BackupMetadata, type JsonValue, type ManifestFile, type ManifestFileType,
  type ManifestLayout, type ManifestSnapshot, MANIFEST_FORMAT, MANIFEST_NAME, MANIFEST_VERSION,
} from './manifest.js';
export { type ParseManifestOptions, parseManifest } from './manifest-parse.js';
export {
  type DirectoryEntries, type ZipOptions, type ZipPlan, type ZipPlanEntry, CONTENT_DIR, kantoZipOptions, planSnapshotZip,
} from './plan.js';
export { snapshotZipStream, writeSnapshotZip } from './write.js';
export { DEFAULT_EXTRACT_LIMITS, type ExtractLimits, type ExtractOptions, extractBackupZip } from './extract.js';
export { classifyZipError } from './zip-reader.js';
export { symlinkOutsideRootReason } from './paths.js';
export { HOST_UNIX, S_IFDIR, S_IFLNK, TOTAL_RATIO_GRACE_BYTES, exceedsRatio, exceedsTotalRatio, isDeflated, unixTypeOf, unreadableEntry } from './zip-entry.js';
