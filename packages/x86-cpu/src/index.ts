/**
 * `@typevisor/x86-cpu`.
 * @module
 */
export { X86CpuError, type X86CpuErrorCode } from './errors.ts';
