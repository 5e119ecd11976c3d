/**
 * `@typevisor/hypervisor`.
 * @module
 */
export { HypervisorError, type HypervisorErrorCode } from './errors.ts';
