/** The `code` of a {@link X86CpuError}: what kind of misuse it reports. */
export type X86CpuErrorCode = 'INVALID_ARGUMENT' | 'INVALID_STATE' | 'UNSUPPORTED';

/**
 * Errors thrown by `@typevisor/x86-cpu` when the library is misused. Guest faults are never thrown: they are architectural state.
 * Messages start with the package name, e.g. `x86-cpu: …`.
 */
export class X86CpuError extends Error {
  /** What kind of misuse this is; stable across versions, safe to switch on. */
  readonly code: X86CpuErrorCode;

  /** Creates an error with a code, a message (the package prefix is added) and an optional cause. */
  constructor(code: X86CpuErrorCode, message: string, options?: { cause?: unknown }) {
    super(`x86-cpu: ${message}`, options);
    this.name = 'X86CpuError';
    this.code = code;
  }
}
