import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const builtBin = `${root}packages/toolstack/dist/bin.js`;
const pkgVersion = (
  await import('../../packages/toolstack/package.json', { with: { type: 'json' } })
).default.version;

describe('the typevisor executable', () => {
  it('runs from source through the root script entry (tsx, source condition)', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@typevisor/source',
        'packages/toolstack/src/bin.ts',
        '--version',
      ],
      { cwd: root },
    );
    expect(stdout).toBe(`typevisor ${pkgVersion}\n`);
  });

  // The test script builds before running vitest; a plain `vitest run` may not have dist/.
  it.skipIf(!existsSync(builtBin) && !process.env.CI)(
    'runs as the published bin from dist/',
    async () => {
      const help = await run(process.execPath, [builtBin, '--help'], { cwd: root });
      expect(help.stdout).toMatch(/^Usage: typevisor/);
      const bad = await run(process.execPath, [builtBin, 'no-such-verb'], { cwd: root }).catch(
        (e: { code: number; stderr: string }) => e,
      );
      expect(bad).toMatchObject({ code: 2 });
      expect((bad as { stderr: string }).stderr).toContain("unknown command 'no-such-verb'");
    },
  );
});
