/**
 * The terminal progress line of `save`, `restore` and `migrate`: progress events from the daemon
 * rewrite one line (`\r`) while standard output is a terminal, and the line is cleared at the end.
 * @module
 */
import type { CliIo } from '../cli/command.ts';
import type { RpcEvent } from '../daemon/protocol.ts';

/** Formats a byte count in MiB with one decimal. */
function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

/** The text of one progress event's line, or undefined for an event that is not progress. */
export function progressText(event: RpcEvent): string | undefined {
  if (event.event !== 'progress') return undefined;
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(event.data) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const done = typeof data.done === 'number' ? data.done : 0;
  const total = typeof data.total === 'number' ? data.total : 0;
  switch (data.phase) {
    case 'save':
      return `Saving: ${done}/${total} pages (${total > 0 ? Math.floor((done * 100) / total) : 100}%)`;
    case 'restore':
      return `Restoring: ${mib(done)} read`;
    case 'migrate':
      return `Migrating: round ${String(data.round)}, ${String(data.pages)} pages sent`;
    default:
      return undefined;
  }
}

/** A progress line on `io`'s standard output; inert when `enabled` is false. */
export class ProgressLine {
  private readonly io: CliIo;
  private readonly enabled: boolean;
  private width = 0;

  /** A line on `io` (shown only when `enabled`, i.e. standard output is a terminal). */
  constructor(io: CliIo, enabled: boolean) {
    this.io = io;
    this.enabled = enabled;
  }

  /** Shows the progress in `event` (other events are ignored). */
  update(event: RpcEvent): void {
    const text = progressText(event);
    if (!this.enabled || text === undefined) return;
    this.io.stdout(`\r${text.padEnd(this.width)}`);
    this.width = Math.max(this.width, text.length);
  }

  /** Clears the line. */
  done(): void {
    if (!this.enabled || this.width === 0) return;
    this.io.stdout(`\r${' '.repeat(this.width)}\r`);
    this.width = 0;
  }
}
