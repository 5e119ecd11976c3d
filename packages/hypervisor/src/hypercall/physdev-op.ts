/**
 * `HYPERVISOR_physdev_op(cmd, arg)` (#33) as an unprivileged 64-bit PV domain without passed-
 * through devices sees it under Xen 4.17 (recorded with the ABI reference guest): the I/O
 * privilege and bitmap calls work, IRQ status queries answer, a free PIRQ can be reserved, and
 * everything that touches physical interrupts, MSI, PCI or the debug port is -EPERM (XSM's
 * default policy keeps those for the hardware domain). Unknown commands are -ENOSYS.
 *
 * @see xen/arch/x86/physdev.c (do_physdev_op), xen/include/public/physdev.h
 */
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSPC, XEN_ENOSYS, XEN_EPERM } from '../abi/errno.ts';
import type { HypercallContext } from './context.ts';
import { readStruct, writeStruct } from './guest-io.ts';

/** `PHYSDEVOP_*` numbers. @see xen/include/public/physdev.h */
export const PHYSDEVOP = {
  /** Query an IRQ's status flags. */ PHYSDEVOP_irq_status_query: 5,
  /** Set the vCPU's I/O privilege level. */ PHYSDEVOP_set_iopl: 6,
  /** Set the vCPU's I/O permission bitmap. */ PHYSDEVOP_set_iobitmap: 7,
  /** Read an IO-APIC register. */ PHYSDEVOP_apic_read: 8,
  /** Write an IO-APIC register. */ PHYSDEVOP_apic_write: 9,
  /** Allocate an IRQ vector. */ PHYSDEVOP_alloc_irq_vector: 10,
  /** Free an IRQ vector (retired). */ PHYSDEVOP_free_irq_vector: 11,
  /** End of interrupt for a PIRQ. */ PHYSDEVOP_eoi: 12,
  /** Map a physical IRQ. */ PHYSDEVOP_map_pirq: 13,
  /** Unmap a physical IRQ. */ PHYSDEVOP_unmap_pirq: 14,
  /** Add a PCI device. */ PHYSDEVOP_manage_pci_add: 15,
  /** Remove a PCI device. */ PHYSDEVOP_manage_pci_remove: 16,
  /** Register the PIRQ EOI bitmap (auto-unmask). */ PHYSDEVOP_pirq_eoi_gmfn_v1: 17,
  /** Restore MSI state. */ PHYSDEVOP_restore_msi: 19,
  /** Add a PCI device with extra information. */ PHYSDEVOP_manage_pci_add_ext: 20,
  /** Set up a GSI. */ PHYSDEVOP_setup_gsi: 21,
  /** Reserve a free PIRQ. */ PHYSDEVOP_get_free_pirq: 23,
  /** Report reserved MMCONFIG space. */ PHYSDEVOP_pci_mmcfg_reserved: 24,
  /** Add a PCI device (segment aware). */ PHYSDEVOP_pci_device_add: 25,
  /** Remove a PCI device (segment aware). */ PHYSDEVOP_pci_device_remove: 26,
  /** Restore MSI state (segment aware). */ PHYSDEVOP_restore_msi_ext: 27,
  /** Register the PIRQ EOI bitmap. */ PHYSDEVOP_pirq_eoi_gmfn_v2: 28,
  /** Debug-port operations. */ PHYSDEVOP_dbgp_op: 29,
  /** Prepare MSI-X. */ PHYSDEVOP_prepare_msix: 30,
  /** Release MSI-X. */ PHYSDEVOP_release_msix: 31,
} as const;

/** `MAP_PIRQ_TYPE_GSI`: get_free_pirq searches above the legacy IRQs first. @see xen/include/public/physdev.h */
const MAP_PIRQ_TYPE_GSI = 1;

/** A domain's PIRQ space: which PIRQs are reserved (plain data). */
export interface PirqTableState {
  /** Number of PIRQs the domain has. */
  readonly nrPirqs: number;
  /** Number of GSIs (PIRQs below it are the legacy/GSI range). */
  readonly nrIrqsGsi: number;
  /** Reserved PIRQs. */
  readonly allocated: readonly number[];
}

/**
 * The PIRQs of one domain, as get_free_pirq hands them out: GSI requests take the lowest free
 * PIRQ from 16 up to the GSI count, every request then the highest free one above it.
 * @see xen/arch/x86/irq.c (get_free_pirq)
 */
export class PirqTable {
  /** Number of PIRQs. */
  readonly nrPirqs: number;
  /** Number of GSIs. */
  readonly nrIrqsGsi: number;
  private readonly used: Set<number>;

  /** A table of `nrPirqs` PIRQs (default 256 + 32, Xen's domU default) with `nrIrqsGsi` GSIs. */
  constructor(nrPirqs = 288, nrIrqsGsi = 48) {
    this.nrPirqs = nrPirqs;
    this.nrIrqsGsi = Math.min(nrIrqsGsi, nrPirqs);
    this.used = new Set();
  }

  /** Reserves a free PIRQ for `type`: its number, or -ENOSPC. */
  allocate(type: number): number {
    if (type === MAP_PIRQ_TYPE_GSI) {
      for (let i = 16; i < this.nrIrqsGsi; i++) if (!this.used.has(i)) return this.take(i);
    }
    for (let i = this.nrPirqs - 1; i >= this.nrIrqsGsi; i--)
      if (!this.used.has(i)) return this.take(i);
    return -XEN_ENOSPC;
  }

  private take(pirq: number): number {
    this.used.add(pirq);
    return pirq;
  }

  /** The table as plain data. */
  getState(): PirqTableState {
    return {
      nrPirqs: this.nrPirqs,
      nrIrqsGsi: this.nrIrqsGsi,
      allocated: [...this.used].sort((a, b) => a - b),
    };
  }

  /** Recreates a table from {@link PirqTable.getState}. */
  static fromState(state: PirqTableState): PirqTable {
    const t = new PirqTable(state.nrPirqs, state.nrIrqsGsi);
    for (const p of state.allocated) t.used.add(p);
    return t;
  }
}

/** The vCPU state physdev_op changes. */
export interface PhysdevPort {
  /** The domain's PIRQs. */
  readonly pirqs: PirqTable;
  /** Sets the vCPU's virtual I/O privilege level (0–3). */
  setIopl(iopl: number): void;
}

/** Runs `HYPERVISOR_physdev_op(cmd, arg)` for an unprivileged domain; never throws. */
export function physdevOp(
  port: PhysdevPort,
  ctx: HypercallContext,
  cmd: number,
  arg: number,
): number {
  switch (cmd) {
    case PHYSDEVOP.PHYSDEVOP_irq_status_query: {
      const q = readStruct(ctx.guest, arg, 8);
      if (q === null) return -XEN_EFAULT;
      if (q.getUint32(0, true) >= port.pirqs.nrPirqs) return -XEN_EINVAL;
      q.setUint32(4, 0, true); // no XENIRQSTAT_* flags: nothing is bound
      return writeStruct(ctx.guest, arg, q) ? 0 : -XEN_EFAULT;
    }
    case PHYSDEVOP.PHYSDEVOP_set_iopl: {
      const v = readStruct(ctx.guest, arg, 4);
      if (v === null) return -XEN_EFAULT;
      const iopl = v.getUint32(0, true);
      if (iopl > 3) return -XEN_EINVAL;
      port.setIopl(iopl);
      return 0;
    }
    case PHYSDEVOP.PHYSDEVOP_set_iobitmap: {
      // struct physdev_set_iobitmap { handle bitmap; u32 nr_ports; }: 16 bytes padded, 8 compat.
      const compat = ctx.abi === 'x86_32';
      const v = readStruct(ctx.guest, arg, compat ? 8 : 16);
      if (v === null) return -XEN_EFAULT;
      return v.getUint32(compat ? 4 : 8, true) > 65536 ? -XEN_EINVAL : 0;
    }
    case PHYSDEVOP.PHYSDEVOP_eoi:
    case PHYSDEVOP.PHYSDEVOP_pirq_eoi_gmfn_v1:
    case PHYSDEVOP.PHYSDEVOP_pirq_eoi_gmfn_v2: {
      // No PIRQ is bound to a domU here, and the EOI map frame must be a writable page of the
      // domain: the zero frame (and any other) is refused.
      const v = readStruct(ctx.guest, arg, cmd === PHYSDEVOP.PHYSDEVOP_eoi ? 4 : 8);
      return v === null ? -XEN_EFAULT : -XEN_EINVAL;
    }
    case PHYSDEVOP.PHYSDEVOP_get_free_pirq: {
      const v = readStruct(ctx.guest, arg, 8);
      if (v === null) return -XEN_EFAULT;
      const pirq = port.pirqs.allocate(v.getUint32(0, true));
      if (pirq < 0) return pirq;
      v.setUint32(4, pirq, true);
      return writeStruct(ctx.guest, arg, v) ? 0 : -XEN_EFAULT;
    }
    case PHYSDEVOP.PHYSDEVOP_apic_read:
    case PHYSDEVOP.PHYSDEVOP_apic_write:
    case PHYSDEVOP.PHYSDEVOP_alloc_irq_vector:
    case PHYSDEVOP.PHYSDEVOP_map_pirq:
    case PHYSDEVOP.PHYSDEVOP_unmap_pirq:
    case PHYSDEVOP.PHYSDEVOP_manage_pci_add:
    case PHYSDEVOP.PHYSDEVOP_manage_pci_remove:
    case PHYSDEVOP.PHYSDEVOP_restore_msi:
    case PHYSDEVOP.PHYSDEVOP_manage_pci_add_ext:
    case PHYSDEVOP.PHYSDEVOP_setup_gsi:
    case PHYSDEVOP.PHYSDEVOP_pci_mmcfg_reserved:
    case PHYSDEVOP.PHYSDEVOP_pci_device_add:
    case PHYSDEVOP.PHYSDEVOP_pci_device_remove:
    case PHYSDEVOP.PHYSDEVOP_restore_msi_ext:
    case PHYSDEVOP.PHYSDEVOP_dbgp_op:
    case PHYSDEVOP.PHYSDEVOP_prepare_msix:
    case PHYSDEVOP.PHYSDEVOP_release_msix:
      return -XEN_EPERM;
    default:
      return -XEN_ENOSYS; // includes the retired PHYSDEVOP_free_irq_vector
  }
}
