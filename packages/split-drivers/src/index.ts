/**
 * `@typevisor/split-drivers`.
 * @module
 */
export { SplitDriversError, type SplitDriversErrorCode } from './errors.ts';
