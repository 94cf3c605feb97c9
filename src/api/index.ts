/** The HTTP adapter's public face. */
export { buildApp, type BuildOptions, DEFAULT_BODY_LIMIT } from './app.js';
export { CORE_ERROR_REPLY } from './errors.js';
