/**
 * Xen's writable page-table emulation ("ptwr", always on for PV guests in Xen 4.17): a guest
 * write that faults on a read-only mapping of one of its own L1 page tables is not a #PF for the
 * guest but an update Xen validates and applies, as if the guest had made it with `mmu_update`.
 *
 * Xen decodes the instruction with x86_emulate and routes its store through
 * `ptwr_emulated_update`. Here the CPU model itself executes that one instruction with the L1
 * entry that maps the page-table page made writable for that step only; the page is compared
 * with a snapshot, the old contents are put back and the single 8-byte entry the instruction
 * changed is applied through the MMU's `mmu_update` (`get_page_from_l1e` and Xen's adjustments:
 * reference counts, `_PAGE_USER` for 64-bit, refused mappings). If the step faults, changes more
 * than one entry, or the update is refused, everything is rolled back — registers, RIP, the
 * page — and the guest gets its original #PF, as Xen's X86EMUL_UNHANDLEABLE does.
 * @see xen/arch/x86/pv/ro-page-fault.c (pv_ro_page_fault, ptwr_do_page_fault,
 *   ptwr_emulated_update)
 */
import type { MachineBytesPort, PvCpuPort, PvMmPort } from './ports.ts';

/** #PF error-code bits: present, write, reserved bit set, instruction fetch. */
const PFEC_PRESENT = 1;
const PFEC_WRITE = 2;
const PFEC_RSVD = 8;
const PFEC_FETCH = 16;
/** The CPU model's exit reason for a finished budget (`EXIT.BUDGET`). */
const EXIT_BUDGET = 0;
/** PTE bit: writable. */
const PTE_RW = 2;
const WORDS = 1024;
/** `MMU_NORMAL_PT_UPDATE` in the low bits of an mmu_update pointer. */
const MMU_NORMAL_PT_UPDATE = 0;

/** One vCPU's ptwr emulation over its CPU, machine memory and the MMU. */
export class PtwrEmulator {
  /** Writes emulated (applied as validated updates) so far. */
  emulated: number;
  private readonly cpu: PvCpuPort;
  private readonly machine: MachineBytesPort;
  private readonly mm: PvMmPort | null;
  private readonly domid: number;
  private readonly page: Int32Array;
  private readonly now: Int32Array;
  private readonly lo: Int32Array;
  private readonly hi: Int32Array;
  private readonly req: Int32Array;

  /** An emulator for domain `domid`'s vCPU on `cpu`; without `mm.ptwrSlot` it never applies. */
  constructor(cpu: PvCpuPort, machine: MachineBytesPort, mm: PvMmPort | null, domid: number) {
    this.cpu = cpu;
    this.machine = machine;
    this.mm = mm;
    this.domid = domid;
    this.emulated = 0;
    this.page = new Int32Array(WORDS);
    this.now = new Int32Array(WORDS);
    this.lo = new Int32Array(cpu.lo.length);
    this.hi = new Int32Array(cpu.hi.length);
    this.req = new Int32Array(4);
  }

  /**
   * Tries to emulate the write behind a #PF with `errorCode` at CR2 (the CPU's state is at the
   * faulting instruction). Xen does so only for a write (present page, no reserved bit, not a
   * fetch) from guest kernel mode (`kernelMode`) in a domain with
   * VMASST_TYPE_writable_pagetables (`PvMm.ptwrSlot` checks the assist). True: the write was
   * applied and RIP is past the instruction; false: nothing changed and the #PF goes to the guest.
   * @see xen/arch/x86/traps.c (fixup_page_fault)
   */
  tryWrite(errorCode: number, kernelMode: boolean): boolean {
    const mm = this.mm;
    if (!kernelMode || mm === null || mm.ptwrSlot === undefined) return false;
    const bits = PFEC_PRESENT | PFEC_WRITE | PFEC_RSVD | PFEC_FETCH;
    if ((errorCode & bits) !== (PFEC_PRESENT | PFEC_WRITE)) return false;
    const cpu = this.cpu;
    const cr2 = cpu.cr2;
    const lo = Number(BigInt.asIntN(32, BigInt(cr2)));
    const hi = Number(BigInt.asIntN(32, BigInt(cr2) >> 32n));
    const slot = mm.ptwrSlot(this.domid, Math.floor(cpu.cr3 / 4096), lo, hi);
    if (slot < 0) return false;
    const m = this.machine;
    const pteMa = Math.floor(slot / 512) * 4096 + (slot % 512) * 8;
    const pteLo = m.readMa32(pteMa);
    const pteHi = m.readMa32(pteMa + 4);
    const target = (pteLo >>> 12) + (pteHi & 0xfffff) * 0x100000;
    if (target >= m.frames) return false;
    const base = target * 4096;
    const page = this.page;
    this.readFrame(target, page);
    this.lo.set(cpu.lo);
    this.hi.set(cpu.hi);
    const rip = cpu.rip;
    const rflags = cpu.getRflags();
    // One step with the page-table page writable, then the mapping as it was.
    m.writeMa32(pteMa, pteLo | PTE_RW);
    cpu.flushTlb();
    let reason = -1;
    try {
      reason = cpu.run(1);
    } catch {
      reason = -1;
    }
    m.writeMa32(pteMa, pteLo);
    m.writeMa32(pteMa + 4, pteHi);
    cpu.flushTlb();
    // Which 8-byte entry did the step change? Put the old contents back either way.
    const now = this.now;
    this.readFrame(target, now);
    let changed = -1;
    let count = 0;
    for (let i = 0; i < WORDS; i += 2) {
      const a = now[i] ?? 0;
      const b = now[i + 1] ?? 0;
      if (a === page[i] && b === page[i + 1]) continue;
      count++;
      if (changed < 0) {
        changed = i;
        this.req[2] = a;
        this.req[3] = b;
      }
      m.writeMa32(base + i * 4, page[i] ?? 0);
      m.writeMa32(base + i * 4 + 4, page[i + 1] ?? 0);
    }
    let ok = reason === EXIT_BUDGET && count <= 1;
    if (ok && count === 1) {
      const ptr = base + changed * 4;
      this.req[0] = (ptr % 2 ** 32) | MMU_NORMAL_PT_UPDATE | 0;
      this.req[1] = Math.floor(ptr / 2 ** 32) | 0;
      ok = mm.mmuUpdate(this.domid, this.req, 1) === 0;
      cpu.flushTlb();
    }
    if (ok) {
      this.emulated++;
      return true;
    }
    cpu.lo.set(this.lo);
    cpu.hi.set(this.hi);
    cpu.rip = rip;
    cpu.setRflags(rflags);
    cpu.cr2 = cr2;
    return false;
  }

  /** Copies frame `mfn` into `out` (one typed-array copy when the machine offers it). */
  private readFrame(mfn: number, out: Int32Array): void {
    const m = this.machine;
    if (m.readFrameWords !== undefined) {
      m.readFrameWords(mfn, out);
      return;
    }
    for (let i = 0; i < WORDS; i++) out[i] = m.readMa32(mfn * 4096 + i * 4);
  }
}
