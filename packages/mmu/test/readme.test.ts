import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('README example', () => {
  it('runs and prints what its comments claim', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    const src = pathToFileURL(fileURLToPath(new URL('../src/index.ts', import.meta.url))).href;
    const dir = mkdtempSync(join(tmpdir(), 'mmu-readme-'));
    const file = join(dir, 'example.ts');
    const lines: unknown[] = [];
    const body = (code ?? '')
      .replace("'@typevisor/mmu'", JSON.stringify(src))
      .replaceAll('console.log(', 'globalThis.__log(');
    writeFileSync(file, body);
    (globalThis as { __log?: (v: unknown) => void }).__log = (v) => lines.push(v);
    try {
      await import(pathToFileURL(file).href);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(lines).toEqual([-16, true]);
  });
});
