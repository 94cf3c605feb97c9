/**
 * Parts an instance has without naming them: the built-in instance `device` always includes
 * Coffer's own configuration. The backup and restore executors call these hooks; what the parts
 * hold and how they are put back is the configuration module's business.
 */
import type { Backup, Instance, Job } from '../../catalog/index.js';
import type { Repository, Snapshot } from '../../repo/index.js';
import type { DirectoryPart } from '../parts.js';

export interface OwnPartsRestore {
  job: Job;
  backup: Backup;
  target: Instance;
  /** Held under the restore's shared lock (a prune cannot repack what is read); read it only while `restore` runs. */
  repo: Repository;
  snapshot: Snapshot;
  signal: AbortSignal;
  /** Tells the job's result something that went right but needs an admin's eye (credentials that came back). */
  notice?: (message: string) => void;
}

export interface OwnParts {
  /** The extra parts a backup of `instance` reads, written to disk just now. */
  forBackup(instance: Instance): Promise<DirectoryPart[]>;
  /** Whether the part `name` of `backup` is one of ours (put back by `restore`, not as files). */
  owns(backup: Backup, name: string): boolean;
  /** Whether restoring `backup` into `target` (whole, or these paths) puts back parts of ours. */
  restores(backup: Backup, target: Instance, paths: readonly string[] | undefined): boolean;
  /** Puts them back after the files; resolves to a warning for the job's result when that could not be done. */
  restore(o: OwnPartsRestore): Promise<string | null>;
}
