/**
 * vCPU-op commands.
 * @see xen/include/public/vcpu.h
 */

/** `HYPERVISOR_vcpu_op` command `initialise`. @see xen/include/public/vcpu.h */
export const VCPUOP_initialise = 0;
/** `HYPERVISOR_vcpu_op` command `up`. @see xen/include/public/vcpu.h */
export const VCPUOP_up = 1;
/** `HYPERVISOR_vcpu_op` command `down`. @see xen/include/public/vcpu.h */
export const VCPUOP_down = 2;
/** `HYPERVISOR_vcpu_op` command `is_up`. @see xen/include/public/vcpu.h */
export const VCPUOP_is_up = 3;
/** `HYPERVISOR_vcpu_op` command `get_runstate_info`. @see xen/include/public/vcpu.h */
export const VCPUOP_get_runstate_info = 4;
/** `HYPERVISOR_vcpu_op` command `register_runstate_memory_area`. @see xen/include/public/vcpu.h */
export const VCPUOP_register_runstate_memory_area = 5;
/** `HYPERVISOR_vcpu_op` command `set_periodic_timer`. @see xen/include/public/vcpu.h */
export const VCPUOP_set_periodic_timer = 6;
/** `HYPERVISOR_vcpu_op` command `stop_periodic_timer`. @see xen/include/public/vcpu.h */
export const VCPUOP_stop_periodic_timer = 7;
/** `HYPERVISOR_vcpu_op` command `set_singleshot_timer`. @see xen/include/public/vcpu.h */
export const VCPUOP_set_singleshot_timer = 8;
/** `HYPERVISOR_vcpu_op` command `stop_singleshot_timer`. @see xen/include/public/vcpu.h */
export const VCPUOP_stop_singleshot_timer = 9;
/** `HYPERVISOR_vcpu_op` command `register_vcpu_info`. @see xen/include/public/vcpu.h */
export const VCPUOP_register_vcpu_info = 10;
/** `HYPERVISOR_vcpu_op` command `send_nmi`. @see xen/include/public/vcpu.h */
export const VCPUOP_send_nmi = 11;
/** `HYPERVISOR_vcpu_op` command `get_physid`. @see xen/include/public/vcpu.h */
export const VCPUOP_get_physid = 12;
/** `HYPERVISOR_vcpu_op` command `register_vcpu_time_memory_area`. @see xen/include/public/vcpu.h */
export const VCPUOP_register_vcpu_time_memory_area = 13;
/** `HYPERVISOR_vcpu_op` command `register_runstate_phys_area`. @see xen/include/public/vcpu.h */
export const VCPUOP_register_runstate_phys_area = 14;
/** `HYPERVISOR_vcpu_op` command `register_vcpu_time_phys_area`. @see xen/include/public/vcpu.h */
export const VCPUOP_register_vcpu_time_phys_area = 15;
/** set_singleshot_timer flag: fail with -ETIME if the deadline has passed. @see xen/include/public/vcpu.h */
export const VCPU_SSHOTTMR_future = 1;
/** vCPU runstate: running on a physical CPU. @see xen/include/public/vcpu.h */
export const RUNSTATE_running = 0;
/** vCPU runstate: runnable, waiting for a CPU. @see xen/include/public/vcpu.h */
export const RUNSTATE_runnable = 1;
/** vCPU runstate: blocked. @see xen/include/public/vcpu.h */
export const RUNSTATE_blocked = 2;
/** vCPU runstate: offline. @see xen/include/public/vcpu.h */
export const RUNSTATE_offline = 3;
