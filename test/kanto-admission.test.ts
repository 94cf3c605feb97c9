/**
 * Kanto's one operation per directory holds across processes: two Coffer processes sharing one
 * PostgreSQL catalog, one admitting a Kanto backup and the other a Kanto restore of the same
 * directory at the same moment, never both succeed. The check and the insert happen under the
 * instance's row lock (src/core/kanto.ts, BackupService.create's `admit`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Core, SYSTEM_ACTOR } from '../src/core/index.js';
import { catalogsUnderTest } from './catalogs.js';
import { writeTree } from './api-harness.js';
import { tempDir } from './helpers.js';

const postgres = (await catalogsUnderTest()).find((c) => c.name === 'postgres');

describe.skipIf(!postgres)('Kanto admission across processes (postgres)', () => {
  afterAll(() => postgres!.cleanup());

  it('a backup and a restore of one directory admitted at once by two processes: one of them, never both', async () => {
    const work = tempDir('coffer-kanto-admission-');
    const location = await postgres!.create(work);
    const dir = path.join(work, 'kanto-dir');
    writeTree(dir, { 'a.txt': 'alpha\n' });
    const first = await Core.start({ dataDir: path.join(work, 'a'), catalog: location, role: 'api', adminPassword: 'admin-password-123' });
    const second = await Core.start({ dataDir: path.join(work, 'b'), catalog: location, role: 'api', secretFile: path.join(work, 'a', 'secret.key') });
    try {
      const instance = await first.kanto.ensureInstance(SYSTEM_ACTOR, dir);
      // A successful backup to restore from (recorded only: no job runs in these processes).
      const row = await first.catalog.backups.insert({
        instanceId: instance.id, repositoryId: instance.repositoryId, scope: 'full', type: 'full', label: null, description: null, status: 'running',
        hostname: 'h', model: 'm', serial: 's', swVersion: 'v', queryArgs: null, includeFiles: true, includeDatabase: true, createdBy: 'admin', scheduleId: null, extra: null,
      });
      await first.catalog.backups.update(row.id, { status: 'success', snapshotId: 'a'.repeat(64) });
      for (let round = 0; round < 12; round++) {
        const [b, r] = await Promise.allSettled([
          first.kanto.backup(SYSTEM_ACTOR, dir, `b-${round}`),
          second.kanto.restore(SYSTEM_ACTOR, dir, `r-${round}`, { kind: 'backup', backupId: row.id }),
        ]);
        const admitted = [b, r].filter((x) => x.status === 'fulfilled').length;
        expect(admitted, `round ${round}: ${b.status} / ${r.status}`).toBe(1);
        for (const j of await first.catalog.jobs.active({ instanceId: instance.id })) await first.catalog.jobs.setState(j.id, j.kind === 'restore' ? 'failed' : 'error', 'ended by the test');
      }
    } finally {
      await second.stop();
      await first.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);
});
