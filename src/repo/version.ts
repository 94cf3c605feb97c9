/** Coffer's version, recorded in snapshots (`program_version`) and reported by the CLI and API. */
export const VERSION = '0.1.0';
