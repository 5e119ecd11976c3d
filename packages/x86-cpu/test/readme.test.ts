import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('README', () => {
  it('the example runs and prints what its comments say', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const src = new URL('../src/index.ts', import.meta.url).pathname;
    const file = join(mkdtempSync(join(tmpdir(), 'x86-readme-')), 'example.ts');
    writeFileSync(file, code.replace("'@typevisor/x86-cpu'", JSON.stringify(src)));
    const out = execFileSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8' });
    expect(out).toBe('0x7c00: mov si, 0x7c0f\n"hi\\n"\n');
  });
});
