/**
 * The layering rule of docs/architecture.md: imports point down only, and across layers only
 * through a layer's `index.ts`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

// Lower number = lower layer. Adapters may use core and below; core may use catalog/sources and below.
// The CLI sits on top: its `serve` command is where the server's adapters (HTTP, MQTT) are composed.
const RANK: Record<string, number> = {
  types: -1, storage: 0, repo: 1, catalog: 2, sources: 2, transfer: 2, core: 3, api: 4, mqtt: 4, web: 4, cli: 5,
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && e.name !== 'testing.ts')
    .map((e) => path.join(e.parentPath, e.name));
}

describe('layering', () => {
  it('no upward or sideways imports, and cross-layer imports go through index.ts', () => {
    const src = path.join(ROOT, 'src');
    const problems: string[] = [];
    for (const file of sourceFiles(src)) {
      const layer = path.relative(src, file).split(path.sep)[0]!;
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/from\s+'(\.[^']+)'/g)) {
        const target = path.resolve(path.dirname(file), m[1]!);
        const rel = path.relative(src, target);
        if (rel.startsWith('..')) continue;
        const targetLayer = rel.split(path.sep)[0]!;
        if (targetLayer === layer) continue;
        if (!(targetLayer in RANK) || !(layer in RANK)) problems.push(`${file}: unknown layer ${targetLayer}`);
        else if (RANK[targetLayer]! >= RANK[layer]!) problems.push(`${path.relative(ROOT, file)} imports ${m[1]} (${layer} → ${targetLayer})`);
        else if (!/(^|\/)index\.js$/.test(m[1]!)) problems.push(`${path.relative(ROOT, file)} imports ${m[1]} instead of the layer's index.ts`);
      }
    }
    expect(problems).toEqual([]);
  });
});
