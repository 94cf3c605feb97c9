/**
 * The full round trip through a real S3 server (Ceph RGW): backup over MQTT with the provider in
 * the command → the ZIP in the bucket → directory wiped → Kanto's documentation's restore example (its aws
 * options, the endpoint added) → the identical tree.
 */
import * as fs from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifest } from './helpers.js';
import { type KantoUnderTest, expectSameFiles, startKanto } from './mqtt-harness.js';
import { type S3Server, requireMosquitto, startCephS3 } from './support/services.js';

const url = await requireMosquitto();

describe.skipIf(!url)('Kanto backup and restore through S3 (Ceph RGW)', () => {
  let s3: S3Server | null;
  let k: KantoUnderTest;
  const bucket = `kanto-${randomBytes(4).toString('hex')}`;
  let client: S3Client;

  beforeAll(async () => {
    s3 = await startCephS3();
    if (!s3) return;
    client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    k = await startKanto(url!);
  }, 300_000);
  afterAll(async () => {
    client?.destroy();
    await k?.close();
    await s3?.stop();
  });

  it('backup → object in the bucket → wipe → the seed\'s restore example → identical tree', async (ctx) => {
    if (!s3) return ctx.skip();
    const cid = `upload-id-${Math.floor(Date.now() / 1000)}#n`;
    const aws = {
      'aws.access.key.id': s3.accessKeyId, 'aws.region': s3.region, 'aws.s3.bucket': bucket, 'aws.secret.access.key': s3.secretAccessKey,
      'storage.provider': 'aws', 'aws.endpoint': s3.endpoint,
    };
    const before = manifest(k.dir);
    const backup = await k.command('backup', { correlationID: cid, providers: {}, options: { 'backup.dir': k.dir, ...aws } });
    expect(backup!.body.status).toBe(204);
    await k.state('lastOperation', cid, 'BACKUP_FINISHED');
    expect(await k.state('lastUpload', cid, 'SUCCESS')).toMatchObject({ progress: 100 });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['upload-id-' + cid.slice('upload-id-'.length).replace('#', '_') + '.zip']);

    fs.rmSync(k.dir, { recursive: true });
    const correlation = randomUUID();
    // Kanto's documentation's restore example, verbatim but for the values and Coffer's aws.endpoint (an S3-compatible server).
    const payload = `{
	"topic":"${k.thingId.replace(':', '/')}/things/live/messages/restore",
	"headers":{
		"response-required":true,
		"content-type":"application/json",
		"correlation-id":"${correlation}"
	},
	"path":"/features/BackupAndRestore/inbox/messages/restore",
	"value":{
		"correlationID":"${cid}",
		"options":{
			"aws.access.key.id":"${s3.accessKeyId}",
			"aws.region":"${s3.region}",
			"aws.s3.bucket":"${bucket}",
			"aws.secret.access.key":"${s3.secretAccessKey}",
			"storage.provider":"aws",
			"aws.endpoint":"${s3.endpoint}"
		}
	}
}`;
    await k.probe.publish(`command//${k.thingId}/req//restore`, payload);
    const reply = await k.probe.waitFor('the restore answer', (m) => m.body?.headers?.['correlation-id'] === correlation);
    expect(reply.topic).toBe(`command//${k.thingId}/res//restore`);
    expect(reply.body).toEqual({
      topic: `${k.thingId.replace(':', '/')}/things/live/messages/restore`,
      headers: { 'content-type': 'application/json', 'correlation-id': correlation },
      path: '/features/BackupAndRestore/outbox/messages/restore',
      status: 204,
    });
    await k.state('lastOperation', cid, 'RESTORE_FINISHED');
    const after = manifest(k.dir);
    expectSameFiles(after, before);
  });
});
