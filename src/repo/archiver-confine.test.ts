/**
 * backup() with `confine`: a target below a confining root is never reached through a symbolic
 * link in a middle component, even one made after whoever named the target checked it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup } from './archiver.js';
import { PathEscapeError } from './beneath.js';
import { localRepo, tempDir } from './testing.js';

describe('backup with confine', () => {
  it('refuses a target whose ancestor below the root is a link, and reads one that is not', async () => {
    const work = tempDir();
    const part = path.join(work, 'part');
    const outside = path.join(work, 'outside');
    fs.mkdirSync(path.join(part, 'real'), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret');
    fs.writeFileSync(path.join(part, 'real', 'ok.txt'), 'ok');
    fs.symlinkSync(outside, path.join(part, 'elink'));
    const repo = await localRepo(path.join(work, 'repo'));

    const refused = await backup(repo, { paths: [path.join(part, 'elink', 'secret.txt')], confine: [part], workers: 0 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PathEscapeError);
    expect((refused as Error).message).toMatch(/^elink is a symbolic link/);
    expect(await repo.listSnapshots()).toHaveLength(0);

    const made = await backup(repo, { paths: [path.join(part, 'real', 'ok.txt')], confine: [part], workers: 0 });
    expect(made.summary.total_files_processed).toBe(1);
    // Without confine the link is followed, as restic follows the ancestors of the paths it is given.
    const followed = await backup(repo, { paths: [path.join(part, 'elink', 'secret.txt')], workers: 0 });
    expect(followed.summary.total_files_processed).toBe(1);
  });
});
