export * from './backend.js';
export { LocalBackend } from './local.js';
export { MemoryBackend } from './memory.js';
export { type BackendOptions, parseOptionAssignment, optionOrEnv } from './options.js';
export { openBackend, parseLocation } from './registry.js';
