import { runVerb, ToolstackError, TYPEVISOR_VERSION } from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';

describe('runVerb', () => {
  it('resolves to what the verb printed on standard output', async () => {
    expect(await runVerb(['--version'])).toBe(`typevisor ${TYPEVISOR_VERSION}\n`);
  });

  it('rejects a usage error with code USAGE and the verb’s own message', async () => {
    const err = await runVerb(['no-such-verb']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolstackError);
    expect((err as ToolstackError).code).toBe('USAGE');
    expect((err as Error).message).toMatch(
      /exited with status 2: typevisor: unknown command 'no-such-verb'/,
    );
  });

  it('rejects a failing verb with code STATE, naming the problem, and streams stderr when asked', async () => {
    let seen = '';
    const err = await runVerb(['list'], {
      env: { TYPEVISOR_SOCKET: '/nonexistent/typevisor.sock' },
      stderr: (t) => {
        seen += t;
      },
    }).catch((e: unknown) => e);
    expect((err as ToolstackError).code).toBe('STATE');
    expect((err as Error).message).toContain(seen.trim().split('\n')[0]);
    expect(seen).toMatch(/typevisor list: /);
  });
});
