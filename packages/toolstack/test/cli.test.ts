import { describe, expect, it } from 'vitest';
import type { CommandSpec } from '../src/index.ts';
import { type CliIo, EXIT_USAGE, runCli, ToolstackError, TYPEVISOR_VERSION } from '../src/index.ts';

function capture(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    env: {},
    cwd: process.cwd(),
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
  };
  return io;
}

describe('typevisor CLI', () => {
  it('--version prints the package version', async () => {
    const io = capture();
    expect(await runCli(['--version'], io)).toBe(0);
    expect(io.out).toBe(`typevisor ${TYPEVISOR_VERSION}\n`);
    expect(TYPEVISOR_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('--help lists every command with its summary', async () => {
    const io = capture();
    expect(await runCli(['--help'], io)).toBe(0);
    expect(io.out).toContain('Usage: typevisor');
    expect(io.out).toMatch(/^ {2}info +Print information/m);
  });

  it('no arguments prints help and exits with the usage status', async () => {
    const io = capture();
    expect(await runCli([], io)).toBe(EXIT_USAGE);
    expect(io.out).toContain('Commands:');
  });

  it('an unknown command names the command and exits with the usage status', async () => {
    const io = capture();
    expect(await runCli(['frobnicate'], io)).toBe(EXIT_USAGE);
    expect(io.err).toBe(
      "typevisor: unknown command 'frobnicate'. Run 'typevisor --help' for the list.\n",
    );
  });

  it('`help <verb>` and `<verb> --help` print the verb usage', async () => {
    const a = capture();
    const b = capture();
    expect(await runCli(['help', 'info'], a)).toBe(0);
    expect(await runCli(['info', '--help'], b)).toBe(0);
    expect(a.out).toBe(b.out);
    expect(a.out).toMatch(/^Usage: typevisor info/);
  });

  it('an unknown option is a one-line usage error, not a stack trace', async () => {
    const io = capture();
    expect(await runCli(['info', '--bogus'], io)).toBe(EXIT_USAGE);
    expect(io.err).toMatch(/^typevisor info: Unknown option '--bogus'/);
    expect(io.err).not.toMatch(/\n\s+at /);
  });

  it('a ToolstackError becomes a message naming the verb', async () => {
    const failing: CommandSpec = {
      name: 'fail',
      summary: 'always fails',
      usage: 'Usage: typevisor fail\n',
      run: () => Promise.reject(new ToolstackError('NOT_FOUND', "domain 'web' does not exist")),
    };
    const io = capture();
    expect(await runCli(['fail'], io, [failing])).toBe(1);
    expect(io.err).toBe("typevisor fail: domain 'web' does not exist\n");
  });

  it('info prints xl-style key : value lines and valid JSON with --json', async () => {
    const text = capture();
    const json = capture();
    expect(await runCli(['info'], text)).toBe(0);
    expect(await runCli(['info', '--json'], json)).toBe(0);
    const facts = JSON.parse(json.out) as Record<string, unknown>;
    expect(facts.typevisor_version).toBe(TYPEVISOR_VERSION);
    expect(text.out).toContain(`typevisor_version      : ${TYPEVISOR_VERSION}\n`);
    expect(Object.keys(facts).length).toBe(text.out.trim().split('\n').length);
  });
});
