/**
 * The `typevisor` entry point: global options, then dispatch to one verb from the command
 * table. Errors a user can fix are printed as one line naming the problem; only bugs print
 * a stack trace.
 */
import { ToolstackError } from '../errors.ts';
import { TYPEVISOR_VERSION } from '../version.ts';
import type { CliIo, CommandSpec } from './command.ts';
import { COMMANDS } from './commands/index.ts';

/** Exit status for a command-line usage error, as in sysexits' EX_USAGE convention of xl (2). */
export const EXIT_USAGE = 2;

function globalHelp(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length), 8) + 2;
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`);
  return [
    'Usage: typevisor [--help] [--version] <command> [args...]',
    '',
    'Typevisor: the Xen architecture in TypeScript. Commands follow xl(1).',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'typevisor <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/**
 * Runs the `typevisor` CLI with `argv` (the arguments after the program name) and resolves
 * to the exit status. Never throws for bad input: a {@link ToolstackError} becomes a
 * one-line message on stderr and a non-zero status.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  commands: readonly CommandSpec[] = COMMANDS,
): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    const cmd = topic === undefined ? undefined : commands.find((c) => c.name === topic);
    if (topic !== undefined && cmd === undefined) {
      io.stderr(`typevisor: unknown command '${topic}'\n`);
      return EXIT_USAGE;
    }
    io.stdout(cmd ? cmd.usage : globalHelp(commands));
    return first === undefined ? EXIT_USAGE : 0;
  }
  if (first === '--version' || first === '-V') {
    io.stdout(`typevisor ${TYPEVISOR_VERSION}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === first);
  if (cmd === undefined) {
    io.stderr(`typevisor: unknown command '${first}'. Run 'typevisor --help' for the list.\n`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof ToolstackError) {
      io.stderr(`typevisor ${cmd.name}: ${err.message.replace(/^toolstack: /, '')}\n`);
      return err.code === 'USAGE' ? EXIT_USAGE : 1;
    }
    // node:util parseArgs reports unknown or malformed options with these codes.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      io.stderr(`typevisor ${cmd.name}: ${(err as Error).message}\n${cmd.usage}`);
      return EXIT_USAGE;
    }
    throw err;
  }
}
