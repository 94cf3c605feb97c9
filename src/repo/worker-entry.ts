/**
 * Where a worker thread's script is. From the compiled tree (dist/) it sits next to the caller.
 * From TypeScript sources (the test runner) workers cannot load .ts files, so they run the
 * compiled copy in dist/ (`npm test` compiles before testing); without one, pools run inline.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function workerScript(name: string, callerUrl: string): URL | undefined {
  if (!callerUrl.endsWith('.ts')) return new URL(`./${name}.js`, callerUrl);
  const compiled = new URL(`./${name}.js`, callerUrl.replace('/src/', '/dist/'));
  return existsSync(fileURLToPath(compiled)) ? compiled : undefined;
}
