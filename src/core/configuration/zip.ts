/**
 * The configuration backup file: a plain ZIP (no ZIP encryption: the sensitive values are sealed
 * inside the document) holding `configuration.json` and a README that says what it is.
 */
import type { Readable } from 'node:stream';
import * as yauzl from 'yauzl';
import * as yazl from 'yazl';
import { CoreError } from '../errors.js';
import { DOCUMENT_FILE, MAX_DOCUMENT_BYTES } from './document.js';

const README = `Coffer configuration backup
===========================

configuration.json holds this Coffer server's configuration: repositories, instances and their
parts, schedules, users and roles, API keys (their prefixes) and settings, as readable JSON.
Every sensitive value (repository passwords, password and API-key hashes, the server secret) is
in its "sealed" block, encrypted with AES-256-GCM under a key derived with scrypt from the
password chosen when this backup was made. The readable part is authenticated by the same key:
change a byte and the file no longer restores.

Restore it with
  curl -u admin:<password> https://<host>:<port>/api/v1/configuration/backup -X PUT \\
       -F 'password=<backup password>' -F backup=@<this file>
`;

export function writeConfigurationZip(documentJson: string): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const mtime = new Date();
  zip.addBuffer(Buffer.from(documentJson, 'utf8'), DOCUMENT_FILE, { mtime, mode: 0o100600 });
  zip.addBuffer(Buffer.from(README, 'utf8'), 'README.txt', { mtime, mode: 0o100644 });
  zip.end();
  return collect(zip.outputStream);
}

async function collect(stream: NodeJS.ReadableStream | Readable, limit = Number.POSITIVE_INFINITY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      (stream as Readable).destroy?.();
      throw invalidFile(`${DOCUMENT_FILE} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function invalidFile(why: string): CoreError {
  return new CoreError('invalid', `backup: not a Coffer configuration backup: ${why}`, 'backup');
}

/** The text of `configuration.json` inside `zip`; CoreError('invalid') naming what is wrong. */
export async function readConfigurationZip(zip: Buffer): Promise<string> {
  if (zip.length === 0) throw invalidFile('the file is empty');
  let file: yauzl.ZipFile;
  try {
    file = await yauzl.fromBufferPromise(zip, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false });
  } catch (err) {
    throw invalidFile(`the file is not a ZIP archive (${(err as Error).message})`);
  }
  try {
    for await (const entry of file.eachEntry()) {
      if (entry.fileName !== DOCUMENT_FILE) continue;
      if (entry.uncompressedSize > MAX_DOCUMENT_BYTES) throw invalidFile(`${DOCUMENT_FILE} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
      let data: Buffer;
      try {
        data = await collect(await file.openReadStreamPromise(entry), MAX_DOCUMENT_BYTES);
      } catch (err) {
        if (err instanceof CoreError) throw err;
        throw invalidFile(`${DOCUMENT_FILE} cannot be read from the ZIP (${(err as Error).message})`);
      }
      return data.toString('utf8');
    }
  } catch (err) {
    if (err instanceof CoreError) throw err;
    throw invalidFile(`the ZIP archive is damaged (${(err as Error).message})`);
  } finally {
    file.close();
  }
  throw invalidFile(`the ZIP archive holds no ${DOCUMENT_FILE}`);
}
