/**
 * Hypercall numbers (`__HYPERVISOR_*`), the value in EAX/RAX at `int $0x82` / `syscall`.
 * @see xen/include/public/xen.h
 */

/** Hypercall number of `HYPERVISOR_set_trap_table`. @see xen/include/public/xen.h */
export const __HYPERVISOR_set_trap_table = 0;
/** Hypercall number of `HYPERVISOR_mmu_update`. @see xen/include/public/xen.h */
export const __HYPERVISOR_mmu_update = 1;
/** Hypercall number of `HYPERVISOR_set_gdt`. @see xen/include/public/xen.h */
export const __HYPERVISOR_set_gdt = 2;
/** Hypercall number of `HYPERVISOR_stack_switch`. @see xen/include/public/xen.h */
export const __HYPERVISOR_stack_switch = 3;
/** Hypercall number of `HYPERVISOR_set_callbacks`. @see xen/include/public/xen.h */
export const __HYPERVISOR_set_callbacks = 4;
/** Hypercall number of `HYPERVISOR_fpu_taskswitch`. @see xen/include/public/xen.h */
export const __HYPERVISOR_fpu_taskswitch = 5;
/** Hypercall number of `HYPERVISOR_sched_op_compat`. @see xen/include/public/xen.h */
export const __HYPERVISOR_sched_op_compat = 6;
/** Hypercall number of `HYPERVISOR_platform_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_platform_op = 7;
/** Hypercall number of `HYPERVISOR_set_debugreg`. @see xen/include/public/xen.h */
export const __HYPERVISOR_set_debugreg = 8;
/** Hypercall number of `HYPERVISOR_get_debugreg`. @see xen/include/public/xen.h */
export const __HYPERVISOR_get_debugreg = 9;
/** Hypercall number of `HYPERVISOR_update_descriptor`. @see xen/include/public/xen.h */
export const __HYPERVISOR_update_descriptor = 10;
/** Hypercall number of `HYPERVISOR_memory_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_memory_op = 12;
/** Hypercall number of `HYPERVISOR_multicall`. @see xen/include/public/xen.h */
export const __HYPERVISOR_multicall = 13;
/** Hypercall number of `HYPERVISOR_update_va_mapping`. @see xen/include/public/xen.h */
export const __HYPERVISOR_update_va_mapping = 14;
/** Hypercall number of `HYPERVISOR_set_timer_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_set_timer_op = 15;
/** Hypercall number of `HYPERVISOR_event_channel_op_compat`. @see xen/include/public/xen.h */
export const __HYPERVISOR_event_channel_op_compat = 16;
/** Hypercall number of `HYPERVISOR_xen_version`. @see xen/include/public/xen.h */
export const __HYPERVISOR_xen_version = 17;
/** Hypercall number of `HYPERVISOR_console_io`. @see xen/include/public/xen.h */
export const __HYPERVISOR_console_io = 18;
/** Hypercall number of `HYPERVISOR_physdev_op_compat`. @see xen/include/public/xen.h */
export const __HYPERVISOR_physdev_op_compat = 19;
/** Hypercall number of `HYPERVISOR_grant_table_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_grant_table_op = 20;
/** Hypercall number of `HYPERVISOR_vm_assist`. @see xen/include/public/xen.h */
export const __HYPERVISOR_vm_assist = 21;
/** Hypercall number of `HYPERVISOR_update_va_mapping_otherdomain`. @see xen/include/public/xen.h */
export const __HYPERVISOR_update_va_mapping_otherdomain = 22;
/** Hypercall number of `HYPERVISOR_iret`. @see xen/include/public/xen.h */
export const __HYPERVISOR_iret = 23;
/** Hypercall number of `HYPERVISOR_vcpu_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_vcpu_op = 24;
/** Hypercall number of `HYPERVISOR_set_segment_base`. @see xen/include/public/xen.h */
export const __HYPERVISOR_set_segment_base = 25;
/** Hypercall number of `HYPERVISOR_mmuext_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_mmuext_op = 26;
/** Hypercall number of `HYPERVISOR_xsm_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_xsm_op = 27;
/** Hypercall number of `HYPERVISOR_nmi_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_nmi_op = 28;
/** Hypercall number of `HYPERVISOR_sched_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_sched_op = 29;
/** Hypercall number of `HYPERVISOR_callback_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_callback_op = 30;
/** Hypercall number of `HYPERVISOR_xenoprof_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_xenoprof_op = 31;
/** Hypercall number of `HYPERVISOR_event_channel_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_event_channel_op = 32;
/** Hypercall number of `HYPERVISOR_physdev_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_physdev_op = 33;
/** Hypercall number of `HYPERVISOR_hvm_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_hvm_op = 34;
/** Hypercall number of `HYPERVISOR_sysctl`. @see xen/include/public/xen.h */
export const __HYPERVISOR_sysctl = 35;
/** Hypercall number of `HYPERVISOR_domctl`. @see xen/include/public/xen.h */
export const __HYPERVISOR_domctl = 36;
/** Hypercall number of `HYPERVISOR_kexec_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_kexec_op = 37;
/** Hypercall number of `HYPERVISOR_tmem_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_tmem_op = 38;
/** Hypercall number of `HYPERVISOR_argo_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_argo_op = 39;
/** Hypercall number of `HYPERVISOR_xenpmu_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_xenpmu_op = 40;
/** Hypercall number of `HYPERVISOR_dm_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_dm_op = 41;
/** Hypercall number of `HYPERVISOR_hypfs_op`. @see xen/include/public/xen.h */
export const __HYPERVISOR_hypfs_op = 42;
/** Architecture-specific hypercall 0 (x86: machine check (mca)). @see xen/include/public/xen.h */
export const __HYPERVISOR_arch_0 = 48;
/** Architecture-specific hypercall 1 (x86: unused). @see xen/include/public/xen.h */
export const __HYPERVISOR_arch_1 = 49;
/** Architecture-specific hypercall 2 (x86: unused). @see xen/include/public/xen.h */
export const __HYPERVISOR_arch_2 = 50;
/** Architecture-specific hypercall 3 (x86: unused). @see xen/include/public/xen.h */
export const __HYPERVISOR_arch_3 = 51;
/** Architecture-specific hypercall 4 (x86: unused). @see xen/include/public/xen.h */
export const __HYPERVISOR_arch_4 = 52;
/** Architecture-specific hypercall 5 (x86: unused). @see xen/include/public/xen.h */
export const __HYPERVISOR_arch_5 = 53;
/** Architecture-specific hypercall 6 (x86: unused). @see xen/include/public/xen.h */
export const __HYPERVISOR_arch_6 = 54;
/** Architecture-specific hypercall 7 (x86: unused). @see xen/include/public/xen.h */
export const __HYPERVISOR_arch_7 = 55;
