import { expect, it } from 'vitest';
import { backendSuite } from './backend.suite.js';
import { MemoryBackend } from './memory.js';

backendSuite('memory', async () => new MemoryBackend());

it('refuses a file whose name is not the hash of its content', async () => {
  await expect(new MemoryBackend().save({ type: 'pack', name: '0'.repeat(64) }, Buffer.from('x'))).rejects.toThrow(/does not match/);
});
