/**
 * The PV boot path the tests use is the toolstack's own (`bootPvDomain`); this module keeps
 * the names the tests were written with.
 */
export {
  type BootedPvDomain as PvDomainUnderTest,
  bootPvDomain,
  PV_GUEST_DOMID as DOMID,
} from '@typevisor/toolstack';
