/**
 * The `code` of a {@link SplitDriversError}: what kind of misuse it reports. `BAD_IMAGE` is a
 * corrupt or foreign disk image, `UNSUPPORTED` a valid image using a feature not implemented.
 */
export type SplitDriversErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_STATE'
  | 'PROTOCOL'
  | 'BAD_IMAGE'
  | 'UNSUPPORTED';

/**
 * Errors thrown by `@typevisor/split-drivers` when the library is misused. Frontends get ABI status codes, never exceptions.
 * Messages start with the package name, e.g. `split-drivers: …`.
 */
export class SplitDriversError extends Error {
  /** What kind of misuse this is; stable across versions, safe to switch on. */
  readonly code: SplitDriversErrorCode;

  /** Creates an error with a code, a message (the package prefix is added) and an optional cause. */
  constructor(code: SplitDriversErrorCode, message: string, options?: { cause?: unknown }) {
    super(`split-drivers: ${message}`, options);
    this.name = 'SplitDriversError';
    this.code = code;
  }
}
