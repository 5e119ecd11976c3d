/**
 * xen_version commands.
 * @see xen/include/public/version.h
 */

/** `HYPERVISOR_xen_version` command `version`. @see xen/include/public/version.h */
export const XENVER_version = 0;
/** `HYPERVISOR_xen_version` command `extraversion`. @see xen/include/public/version.h */
export const XENVER_extraversion = 1;
/** `HYPERVISOR_xen_version` command `compile_info`. @see xen/include/public/version.h */
export const XENVER_compile_info = 2;
/** `HYPERVISOR_xen_version` command `capabilities`. @see xen/include/public/version.h */
export const XENVER_capabilities = 3;
/** `HYPERVISOR_xen_version` command `changeset`. @see xen/include/public/version.h */
export const XENVER_changeset = 4;
/** `HYPERVISOR_xen_version` command `platform_parameters`. @see xen/include/public/version.h */
export const XENVER_platform_parameters = 5;
/** `HYPERVISOR_xen_version` command `get_features`. @see xen/include/public/version.h */
export const XENVER_get_features = 6;
/** `HYPERVISOR_xen_version` command `pagesize`. @see xen/include/public/version.h */
export const XENVER_pagesize = 7;
/** `HYPERVISOR_xen_version` command `guest_handle`. @see xen/include/public/version.h */
export const XENVER_guest_handle = 8;
/** `HYPERVISOR_xen_version` command `commandline`. @see xen/include/public/version.h */
export const XENVER_commandline = 9;
/** `HYPERVISOR_xen_version` command `build_id`. @see xen/include/public/version.h */
export const XENVER_build_id = 10;
/** `HYPERVISOR_xen_version` command `extraversion2`. @see xen/include/public/version.h */
export const XENVER_extraversion2 = 11;
/** `HYPERVISOR_xen_version` command `capabilities2`. @see xen/include/public/version.h */
export const XENVER_capabilities2 = 12;
/** `HYPERVISOR_xen_version` command `changeset2`. @see xen/include/public/version.h */
export const XENVER_changeset2 = 13;
/** `HYPERVISOR_xen_version` command `commandline2`. @see xen/include/public/version.h */
export const XENVER_commandline2 = 14;
