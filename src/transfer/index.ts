/**
 * File transfers for Kanto's File Backup: uploads to and downloads from the storage
 * providers a request's options name (aws, azure, generic HTTPS), and the safe unpacking of the
 * archives restored that way.
 *
 * Option keys are Kanto's (research/KANTO.md 2.4) plus three of Coffer's: `aws.endpoint` (an
 * S3-compatible server, addressed path-style), `azure.blob.name` (the blob's name instead of the
 * file's) and `https.ca` (PEM text of CA certificates to trust besides the system's, for HTTPS
 * uploads and downloads; text rather than a path, since options arrive from the network and must
 * not make the server read its own files).
 */
export { TransferCancelledError, TransferError, TransferOptionsError } from './errors.js';
export {
  type AwsSettings, type AzureSettings, type DownloadSourceName, type HttpSettings, type TransferControl, type TransferOptions,
  type UploadProviderName, displayUrl, downloadSource, uploadProvider,
} from './options.js';
export { downloadFile, uploadFile } from './transfer.js';
export { DEFAULT_KANTO_ZIP_LIMITS, type ExtractKantoZipOptions, type KantoZipLimits, extractKantoZip } from './kanto-zip.js';
