/** The `code` of a {@link HypervisorError}: what kind of misuse it reports. */
export type HypervisorErrorCode = 'INVALID_ARGUMENT' | 'INVALID_STATE' | 'NOT_FOUND';

/**
 * Errors thrown by `@typevisor/hypervisor` when the library is misused. Guests get Xen error codes, never exceptions.
 * Messages start with the package name, e.g. `hypervisor: …`.
 */
export class HypervisorError extends Error {
  /** What kind of misuse this is; stable across versions, safe to switch on. */
  readonly code: HypervisorErrorCode;

  /** Creates an error with a code, a message (the package prefix is added) and an optional cause. */
  constructor(code: HypervisorErrorCode, message: string, options?: { cause?: unknown }) {
    super(`hypervisor: ${message}`, options);
    this.name = 'HypervisorError';
    this.code = code;
  }
}
