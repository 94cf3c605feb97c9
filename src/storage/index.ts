export * from './backend.js';
export { LocalBackend } from './local.js';
export { AzureBackend } from './azure.js';
export { MemoryBackend } from './memory.js';
// S3Backend loads the AWS SDK: reach it through openBackend (lazily) or import ./s3.js directly.
export type { S3Backend } from './s3.js';
export { type BackendOptions, parseOptionAssignment, optionOrEnv } from './options.js';
export { openBackend, parseLocation } from './registry.js';
