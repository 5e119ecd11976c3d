/**
 * The shape of a `typevisor` subcommand: one verb per file under `cli/commands/`,
 * listed in `cli/commands/index.ts` (as xl lists its verbs in one command table).
 */

/** Where a command writes its output; the real process streams, or buffers in tests. */
export interface CliIo {
  /** Writes to standard output. */
  stdout(text: string): void;
  /** Writes to standard error. */
  stderr(text: string): void;
  /** Environment variables visible to the command. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The directory relative paths are resolved against. */
  readonly cwd: string;
}

/** A subcommand of the `typevisor` CLI. */
export interface CommandSpec {
  /** The verb, as typed on the command line (`create`, `xenstore`, …). */
  readonly name: string;
  /** One line for `typevisor --help`. */
  readonly summary: string;
  /** The full usage text for `typevisor <verb> --help`. */
  readonly usage: string;
  /** Runs the verb with the arguments after it; resolves to the process exit status. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}
