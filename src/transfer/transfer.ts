/** Uploading a file to, and downloading one from, the provider a request's options select. */
import { azureDownloadBody, azureUpload } from './azure.js';
import { TransferOptionsError } from './errors.js';
import { httpDownloadBody, httpUpload } from './http.js';
import { downloadInto } from './local-file.js';
import {
  type TransferControl, type TransferOptions, awsSettings, azureSettings, displayUrl, downloadSource, httpSettings, uploadProvider,
} from './options.js';
import { s3DownloadBody, s3Upload } from './s3.js';

/** Uploads the local file; resolves to where it went (an URL without its query, or s3://bucket/key). */
export async function uploadFile(file: string, o: TransferOptions, c: TransferControl = {}): Promise<{ location: string }> {
  switch (uploadProvider(o)) {
    case 'aws': return s3Upload(file, awsSettings(o), c);
    case 'azure': return azureUpload(file, azureSettings(o), c);
    case 'generic': return httpUpload(file, httpSettings(o, 'upload'), c);
    case null: throw new TransferOptionsError('upload URL not specified');
  }
}

/** Downloads to `toFile`, which must not exist yet; it is removed again on failure or cancellation. */
export async function downloadFile(o: TransferOptions, toFile: string, c: TransferControl = {}): Promise<{ bytes: number }> {
  switch (downloadSource(o)) {
    case 'aws': {
      const s = awsSettings(o);
      const key = s.objectKey ?? c.objectName;
      if (key === undefined) throw new TransferOptionsError(`required parameter 'aws.object.key' missing or empty`);
      return downloadInto(toFile, c, `S3 download of s3://${s.bucket}/${key}`, () => s3DownloadBody(s, key, c));
    }
    case 'azure': {
      const s = azureSettings(o);
      const name = s.blobName ?? c.objectName;
      if (name === undefined) throw new TransferOptionsError(`required parameter 'azure.blob.name' missing or empty`);
      return downloadInto(toFile, c, `Azure download of blob ${name}`, () => azureDownloadBody(s, name, c));
    }
    case 'https': {
      const s = httpSettings(o, 'download');
      return downloadInto(toFile, c, `download from ${displayUrl(s.url)}`, () => httpDownloadBody(s, c));
    }
    case null: throw new TransferOptionsError('Download URL not specified!');
  }
}
