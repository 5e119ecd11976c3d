/** The `code` of a {@link MmuError}: what kind of misuse it reports. */
export type MmuErrorCode =
  | 'DOMAIN_BUSY'
  | 'INVALID_ARGUMENT'
  | 'INVALID_STATE'
  | 'OUT_OF_MEMORY'
  | 'UNKNOWN_DOMAIN';

/**
 * Errors thrown by `@typevisor/mmu` when the library is misused. Guest-visible failures are Xen error codes, never exceptions.
 * Messages start with the package name, e.g. `mmu: …`.
 */
export class MmuError extends Error {
  /** What kind of misuse this is; stable across versions, safe to switch on. */
  readonly code: MmuErrorCode;

  /** Creates an error with a code, a message (the package prefix is added) and an optional cause. */
  constructor(code: MmuErrorCode, message: string, options?: { cause?: unknown }) {
    super(`mmu: ${message}`, options);
    this.name = 'MmuError';
    this.code = code;
  }
}
