/**
 * The 32-bit PV boot path the tests use is the toolstack's own (`bootPv32Domain`); this module
 * keeps the names the tests were written with.
 */
export {
  type BootedPv32Domain as Booted32,
  bootPv32Domain as boot32,
  PV32_GUEST_DOMID as DOMID,
  type Pv32BootOptions as Boot32Options,
} from '@typevisor/toolstack';
