/**
 * Runs every example as its own process, as a user would, and checks what it prints.
 * Every `*.ts` file in this folder other than tests must have an entry here, so that no
 * example can rot unnoticed.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));

/** Example file → a check of its standard output. */
const EXPECTATIONS: Record<string, (stdout: string) => void> = {
  'xenstore-embedded.ts': (out) => {
    expect(out).toBe(
      [
        'watch registered, initial event for /local/domain/1/device/vbd/51712',
        'watch fired for /local/domain/1/device/vbd/51712/backend',
        'device keys: backend, backend-id, state',
        'state = 1',
        '',
      ].join('\n'),
    );
  },
  'toolstack-cli.ts': (out) => {
    expect(out).toMatch(/^typevisor \d+\.\d+\.\d+: info exited 0\n/);
    expect(out).toMatch(/host has \d+ CPUs and \d+ MiB of memory\n$/);
  },
};

async function runExample(file: string): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--conditions=@typevisor/source', file],
    { cwd: here, timeout: 60_000 },
  );
  return stdout;
}

describe('examples', () => {
  const files = readdirSync(here).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'),
  );

  it('every example has an expectation', () => {
    expect(files.filter((f) => !(f in EXPECTATIONS))).toEqual([]);
  });

  for (const [file, check] of Object.entries(EXPECTATIONS)) {
    it(`${file} runs and prints what it promises`, async () => {
      check(await runExample(file));
    });
  }
});
