export * from './backend.js';
export { LocalBackend } from './local.js';
export { AzureBackend } from './azure.js';
export { MemoryBackend } from './memory.js';
export { S3Backend, openS3Backend } from './s3.js';
export { type BackendOptions, parseOptionAssignment, optionOrEnv } from './options.js';
export { openBackend, parseLocation } from './registry.js';
