/**
 * `@typevisor/xenstore`.
 * @module
 */
export { XenstoreError, type XenstoreErrorCode } from './errors.ts';
