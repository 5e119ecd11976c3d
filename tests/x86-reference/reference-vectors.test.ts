/**
 * Keeps the committed QEMU reference vectors for the x86 CPU model honest: the SDM check
 * replays every case against an independent model of the SDM (deviations must be marked),
 * and the live check regenerates a random sample on the installed QEMU and diffs it against
 * the committed data, so drift in either is caught. See tools/x86-reference/README.md.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const haveQemu = existsSync('/usr/bin/qemu-system-x86_64') && existsSync('/usr/bin/nasm');

async function tool(script: string, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', `tools/x86-reference/${script}`, ...args],
      {
        cwd: root,
        timeout: 240_000,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      out: `${err.stdout ?? ''}${err.stderr ?? ''}`,
    };
  }
}

describe('x86 reference vectors', () => {
  it('agree with the independent SDM model, except for the marked QEMU deviations', async () => {
    const r = await tool('sdm-check.ts');
    expect(r.code, r.out.slice(-4000)).toBe(0);
  });

  it.skipIf(!haveQemu && !process.env.CI)(
    'match a fresh QEMU TCG run of a random sample (drift check)',
    async () => {
      const r = await tool('live-check.ts', '--sample', '200');
      expect(r.code, r.out.slice(-4000)).toBe(0);
    },
  );
});
