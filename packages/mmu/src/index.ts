/**
 * `@typevisor/mmu`.
 * @module
 */
export { MmuError, type MmuErrorCode } from './errors.ts';
