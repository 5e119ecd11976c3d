/** The `code` of a {@link XenstoreError}: what kind of misuse it reports. */
export type XenstoreErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_STATE'
  | 'PROTOCOL'
  | 'IO'
  | 'REQUEST_FAILED'
  | 'CLOSED';

/**
 * Errors thrown by `@typevisor/xenstore` when the library is misused. Clients get xenstore error strings, never exceptions.
 * Messages start with the package name, e.g. `xenstore: …`.
 */
export class XenstoreError extends Error {
  /** What kind of misuse this is; stable across versions, safe to switch on. */
  readonly code: XenstoreErrorCode;
  /** For `REQUEST_FAILED`: the error name the daemon replied with (`ENOENT`, `EACCES`, …). */
  readonly errno: string | undefined;

  /** Creates an error with a code, a message (the package prefix is added) and an optional cause. */
  constructor(
    code: XenstoreErrorCode,
    message: string,
    options?: { cause?: unknown; errno?: string },
  ) {
    super(`xenstore: ${message}`, options);
    this.name = 'XenstoreError';
    this.code = code;
    this.errno = options?.errno;
  }
}
