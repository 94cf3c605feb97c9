/**
 * The full round trip through Azure Blob storage (Azurite) driven over MQTT: a backup with the
 * azure provider in the command → Kanto's ZIP as a blob, uploaded through a container SAS with
 * UPLOADING progress → directory wiped → restore from azure by the same correlation id → the
 * identical tree; and a SAS the service refuses → lastUpload FAILED with Azure's error code.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BlobServiceClient, type ContainerClient, ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectNameFor } from '../src/mqtt/context.js';
import { manifest } from './helpers.js';
import { type KantoUnderTest, expectSameFiles, startKanto } from './mqtt-harness.js';
import { type AzureServer, requireMosquitto, startAzurite } from './support/services.js';

const url = await requireMosquitto();

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!url)('Kanto backup and restore through Azure Blob storage (Azurite)', () => {
  let az: AzureServer | null;
  let k: KantoUnderTest;
  let container: ContainerClient;
  let sas = '';
  const containerName = `kanto-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    az = await startAzurite();
    if (!az) return;
    container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient(containerName);
    await container.create();
    // What a backend hands a device: a container SAS, never the account key.
    sas = generateBlobSASQueryParameters({
      containerName,
      permissions: ContainerSASPermissions.parse('rcw'),
      expiresOn: new Date(Date.now() + 3600_000),
    }, new StorageSharedKeyCredential(az.accountName, az.accountKey)).toString();
    // Kept after the upload, so the blob can be compared with the ZIP that was sent.
    k = await startKanto(url!, { keepUploaded: true });
    // Large enough for several progress steps while the ZIP is sent.
    fs.writeFileSync(path.join(k.dir, 'sub', 'large.bin'), randomBytes(12 * 1024 * 1024));
  }, 180_000);
  afterAll(async () => {
    await k?.close();
    await az?.stop();
  });

  const azureOptions = (signature = sas) => ({
    'storage.provider': 'azure',
    'azure.storage.endpoint': az!.blobEndpoint,
    'azure.shared.access.signature': signature,
    'azure.blob.container': containerName,
  });

  it('backup → blob with the ZIP (UPLOADING progress, then SUCCESS) → wipe → restore from azure → identical tree', async (ctx) => {
    if (!az) return ctx.skip();
    const cid = `upload-id-${Math.floor(Date.now() / 1000)}#az`;
    const before = manifest(k.dir);
    const backup = await k.command('backup', { correlationID: cid, providers: {}, options: { 'backup.dir': k.dir, ...azureOptions(), 'info.origin': 'azure-test' } });
    expect(backup!.body.status).toBe(204);
    await k.state('lastOperation', cid, 'BACKUP_FINISHED');
    expect(await k.state('lastUpload', cid, 'SUCCESS')).toMatchObject({ progress: 100, info: { origin: 'azure-test' } });

    const uploads = k.probe.property(k.thingId, 'lastUpload').filter((v) => v.correlationId === cid);
    const uploading = uploads.filter((v) => v.state === 'UPLOADING');
    expect(uploading[0]).toMatchObject({ progress: 0, endTime: '0001-01-01T00:00:00Z' });
    expect(uploading.some((v) => v.progress > 0 && v.progress < 100)).toBe(true);
    const steps = uploading.map((v) => v.progress as number);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(uploads.at(-1)!.state).toBe('SUCCESS');

    // The blob is the ZIP the device made, under the name the restore will ask for.
    const names: string[] = [];
    for await (const b of container.listBlobsFlat()) names.push(b.name);
    expect(names).toEqual([objectNameFor(cid)]);
    const blob = await container.getBlobClient(objectNameFor(cid)).downloadToBuffer();
    expect(blob.subarray(0, 4).toString('binary')).toBe('PK\x03\x04');
    const kept = fs.readdirSync(path.join(k.storageDir, 'backups')).filter((n) => n.endsWith('.zip'));
    expect(kept).toHaveLength(1);
    expect(sha256(blob)).toBe(sha256(fs.readFileSync(path.join(k.storageDir, 'backups', kept[0]!))));

    fs.rmSync(k.dir, { recursive: true });
    const restore = await k.command('restore', { correlationID: cid, options: azureOptions() });
    expect(restore!.body.status).toBe(204);
    await k.state('lastOperation', cid, 'RESTORE_FINISHED');
    const after = manifest(k.dir);
    expectSameFiles(after, before);
  });

  it('a SAS the service refuses: lastUpload FAILED naming AuthorizationFailure, without the signature; the ZIP is kept', async (ctx) => {
    if (!az) return ctx.skip();
    const cid = `bad-sas-${randomUUID()}`;
    const forged = encodeURIComponent(Buffer.alloc(32, 7).toString('base64'));
    const bad = sas.replace(/sig=[^&]+/, `sig=${forged}`);
    const zipsBefore = fs.readdirSync(path.join(k.storageDir, 'backups')).length;
    const backup = await k.command('backup', { correlationID: cid, options: { 'backup.dir': k.dir, ...azureOptions(bad) } });
    expect(backup!.body.status).toBe(204);
    await k.state('lastOperation', cid, 'BACKUP_FINISHED');
    const failed = await k.state('lastUpload', cid, 'FAILED');
    expect(failed.message).toContain('AuthorizationFailure');
    expect(failed.message).toContain('HTTP 403');
    expect(failed.message).not.toContain(forged);
    expect(failed.message).not.toContain('sig=');
    expect(failed.endTime).not.toBe('0001-01-01T00:00:00Z');
    // Nothing was stored under that name, and the ZIP waits for a later trigger.
    const names: string[] = [];
    for await (const b of container.listBlobsFlat()) names.push(b.name);
    expect(names).not.toContain(objectNameFor(cid));
    expect(fs.readdirSync(path.join(k.storageDir, 'backups')).length).toBe(zipsBefore + 1);
  });
});
