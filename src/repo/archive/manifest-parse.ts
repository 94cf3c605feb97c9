/**
 * Reading `manifest.json` from an uploaded file: a schema check by hand (every field's type), then
 * the rules that make the file list a tree that is safe to create: safe paths, no duplicates,
 * every ancestor listed as a directory, symlinks that stay inside.
 */
import { parseTimeNs } from '../time.js';
import { BackupFileError } from './errors.js';
import {
  type BackupManifest, type BackupMetadata, type ManifestFile, type ManifestLayout, type ManifestSnapshot,
  MANIFEST_FORMAT, MANIFEST_NAME, MANIFEST_VERSION,
} from './manifest.js';
import { ancestorsOf, symlinkEscapeReason, unsafePathReason } from './paths.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Linux refuses longer symlink targets (PATH_MAX - 1); it also bounds what import reads into memory. */
const MAX_SYMLINK_TARGET = 4095;

function invalid(message: string): BackupFileError {
  return new BackupFileError('manifest-invalid', `manifest.json: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw invalid(`${where}.${key} must be a string`);
  return v;
}

function strList(o: Record<string, unknown>, key: string, where: string): string[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw invalid(`${where}.${key} must be a list of strings`);
  return v;
}

function timestamp(o: Record<string, unknown>, key: string, where: string): string {
  const v = str(o, key, where);
  try {
    parseTimeNs(v);
  } catch {
    throw invalid(`${where}.${key} is not a timestamp: ${JSON.stringify(v)}`);
  }
  return v;
}

function parseSnapshotField(v: unknown): ManifestSnapshot {
  if (!isObject(v)) throw invalid('snapshot must be an object');
  return {
    id: str(v, 'id', 'snapshot'),
    time: timestamp(v, 'time', 'snapshot'),
    hostname: str(v, 'hostname', 'snapshot'),
    paths: strList(v, 'paths', 'snapshot'),
    tags: strList(v, 'tags', 'snapshot'),
  };
}

function parseLayout(v: unknown): ManifestLayout {
  if (!isObject(v)) throw invalid('layout must be an object');
  const contentDir = str(v, 'content_dir', 'layout');
  if (contentDir !== '') {
    const why = unsafePathReason(contentDir);
    if (why) throw invalid(`layout.content_dir: ${why}`);
  }
  const root = str(v, 'snapshot_root', 'layout');
  if (!root.startsWith('/')) throw invalid('layout.snapshot_root must be an absolute path');
  return { content_dir: contentDir, snapshot_root: root };
}

function parseFile(v: unknown, i: number): ManifestFile {
  const where = `files[${i}]`;
  if (!isObject(v)) throw invalid(`${where} must be an object`);
  const path = str(v, 'path', where);
  const why = unsafePathReason(path);
  if (why) throw new BackupFileError('unsafe-path', `manifest.json: ${where}.path ${JSON.stringify(path)}: ${why}`);
  const type = v['type'];
  if (type !== 'file' && type !== 'dir' && type !== 'symlink') throw invalid(`${where}.type must be file, dir or symlink`);
  const size = v['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  const mode = v['mode'];
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw invalid(`${where}.mode must be an integer from 0 to 0o7777`);
  const f: ManifestFile = { path, type, size, mode, mtime: timestamp(v, 'mtime', where) };
  if (type === 'file') {
    const sha = v['sha256'];
    if (typeof sha !== 'string' || !SHA256_HEX.test(sha)) throw invalid(`${where}.sha256 must be 64 lower-case hex digits`);
    f.sha256 = sha;
  } else if (v['sha256'] !== undefined) {
    throw invalid(`${where}.sha256 is for files only`);
  }
  if (type === 'symlink') {
    f.target = str(v, 'target', where);
    if (Buffer.byteLength(f.target) > MAX_SYMLINK_TARGET) throw invalid(`${where}.target is longer than ${MAX_SYMLINK_TARGET} bytes`);
    if (Buffer.byteLength(f.target) !== size) throw invalid(`${where}.size must be the byte length of the symlink target`);
  } else if (v['target'] !== undefined) {
    throw invalid(`${where}.target is for symlinks only`);
  }
  if (type === 'dir' && size !== 0) throw invalid(`${where}.size must be 0 for a directory`);
  return f;
}

/** The tree rules, on a list whose items are individually valid. */
function checkTree(files: readonly ManifestFile[], opts: ParseManifestOptions): void {
  const byPath = new Map<string, ManifestFile>();
  const links = new Map<string, string>();
  for (const f of files) {
    if (byPath.has(f.path)) throw new BackupFileError('duplicate-entry', `manifest.json lists ${JSON.stringify(f.path)} twice`);
    if (f.path === MANIFEST_NAME) throw invalid(`an entry may not be named ${MANIFEST_NAME} at the top level`);
    byPath.set(f.path, f);
    if (f.type === 'symlink') links.set(f.path, f.target!);
  }
  for (const f of files) {
    for (const a of ancestorsOf(f.path)) {
      const parent = byPath.get(a);
      if (parent?.type === 'symlink') {
        throw new BackupFileError('symlink-escape', `manifest.json: ${JSON.stringify(f.path)} lies below the symlink ${JSON.stringify(a)}`);
      }
      if (parent?.type !== 'dir') throw invalid(`${JSON.stringify(f.path)}: its parent ${JSON.stringify(a)} is not listed as a directory`);
    }
    if (f.type === 'symlink' && !opts.allowExternalSymlinks) {
      const why = symlinkEscapeReason(f.path, f.target!, links);
      if (why) throw new BackupFileError('symlink-escape', `manifest.json: symlink ${JSON.stringify(f.path)}: ${why}`);
    }
  }
}

export interface ParseManifestOptions {
  /** Accept symlinks pointing outside the tree (absolute, or climbing above it); see ExtractOptions. */
  allowExternalSymlinks?: boolean;
}

/** Parses and validates manifest text; every problem is a `BackupFileError`. */
export function parseManifest(text: string, opts: ParseManifestOptions = {}): BackupManifest {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw invalid(`not JSON (${(err as Error).message})`);
  }
  if (!isObject(v)) throw invalid('must be a JSON object');
  if (v['format'] !== MANIFEST_FORMAT) throw invalid(`format must be ${JSON.stringify(MANIFEST_FORMAT)}`);
  if (v['version'] !== MANIFEST_VERSION) throw invalid(`unsupported version ${JSON.stringify(v['version'])} (this Coffer reads version ${MANIFEST_VERSION})`);
  const metadata = v['metadata'];
  if (!isObject(metadata)) throw invalid('metadata must be an object');
  const list = v['files'];
  if (!Array.isArray(list)) throw invalid('files must be a list');
  const files = list.map(parseFile);
  checkTree(files, opts);
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    created_at: timestamp(v, 'created_at', 'manifest'),
    snapshot: parseSnapshotField(v['snapshot']),
    // JSON.parse only produces JSON values, so the object is metadata as it stands.
    metadata: metadata as BackupMetadata,
    layout: parseLayout(v['layout']),
    files,
  };
}
