export * from './backend.js';
export { LocalBackend } from './local.js';
export { MemoryBackend } from './memory.js';
export { openBackend, parseLocation } from './registry.js';
