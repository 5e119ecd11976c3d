/** The `code` of a {@link ToolstackError}: what kind of misuse it reports. */
export type ToolstackErrorCode = 'USAGE' | 'CONFIG' | 'NOT_FOUND' | 'IO' | 'STATE';

/**
 * Errors thrown by `@typevisor/toolstack`; the CLI prints their message and exits non-zero.
 * Messages start with the package name, e.g. `toolstack: …`.
 */
export class ToolstackError extends Error {
  /** What kind of misuse this is; stable across versions, safe to switch on. */
  readonly code: ToolstackErrorCode;

  /** Creates an error with a code, a message (the package prefix is added) and an optional cause. */
  constructor(code: ToolstackErrorCode, message: string, options?: { cause?: unknown }) {
    super(`toolstack: ${message}`, options);
    this.name = 'ToolstackError';
    this.code = code;
  }
}
