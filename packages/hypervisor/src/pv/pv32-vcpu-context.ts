/**
 * Loads a checked compat `vcpu_guest_context` (VCPUOP_initialise from a 32-bit PAE PV guest)
 * into a {@link Pv32Vcpu}, as Xen's `arch_set_info_guest` does for a compat vCPU: the GDT
 * frames, the L3 in ctrlreg[3] (extended-cr3 encoding) typed as the vCPU's base page table
 * (`MMUEXT_NEW_BASEPTR`: the PAE L3 rules, including the below-4-GiB rule without
 * VMASST_TYPE_pae_extended_cr3, are the MMU's), the LDT, then the registers, segments, virtual
 * IDT, callbacks and kernel stack.
 *
 * @see xen/arch/x86/domain.c (arch_set_info_guest)
 */
import { XEN_EINVAL } from '../abi/errno.ts';
import { compatCr3ToPfn, type VcpuGuestContext32 } from '../hypercall/compat-vcpu-context.ts';
import type { PvContextMmPort } from './pv-vcpu-context.ts';
import { loadSegment } from './pv32-traps.ts';
import type { Pv32Vcpu } from './pv32-vcpu.ts';

/** `MMUEXT_NEW_BASEPTR`, `MMUEXT_SET_LDT`. */
const NEW_BASEPTR = 5;
const SET_LDT = 13;
const EFLAGS_IOPL = 3 << 12;
const EFLAGS_IF = 1 << 9;
const SEG_CS = 1;
const SEG_SS = 2;
/** ES, DS, FS, GS in the CPU model's segment order, matching `dataSelectors`. */
const DATA_SEGS = [0, 3, 4, 5];

/**
 * Whether segment-cache attributes `attr` describe a present ring-1 code segment (`code`) or a
 * present ring-1 writable data segment: what the first entry to the guest on CS:EIP and SS:ESP
 * would accept.
 */
function ring1Segment(attr: number, code: boolean): boolean {
  if ((attr & 0x90) !== 0x90 || ((attr >> 5) & 3) !== 1) return false;
  return code ? (attr & 8) !== 0 : (attr & 0x0a) === 0x02;
}

/**
 * Loads `c` (already checked with `checkVcpuGuestContext32`) into `vcpu`. Returns 0, or -EINVAL
 * when the L3, the GDT or the CS/SS selectors cannot be used (the vCPU then stays
 * uninitialised; references taken on its GDT and L3 are dropped by the next attempt).
 */
export function loadVcpuGuestContext32(
  vcpu: Pv32Vcpu,
  c: VcpuGuestContext32,
  mm: PvContextMmPort,
): number {
  const domid = vcpu.domid;
  const id = vcpu.vcpuId;
  const l3 = compatCr3ToPfn(c.ctrlreg[3] ?? 0);
  if (l3 === 0 || l3 >= 0x80000000) return -XEN_EINVAL;
  const gdtEnts = c.gdtEnts;
  if (gdtEnts > 0) {
    if (mm.setGdt === undefined) return -XEN_EINVAL;
    const frames = c.gdtFrames.slice(0, Math.ceil(gdtEnts / 512));
    if (frames.some((f) => f >= 0x80000000)) return -XEN_EINVAL;
    if (mm.setGdt(domid, id, frames, gdtEnts) !== 0) return -XEN_EINVAL;
  }
  if (mm.mmuextOp(domid, id, [{ cmd: NEW_BASEPTR, arg1Lo: l3, arg1Hi: 0, arg2: 0 }]) !== 0) {
    if (gdtEnts > 0) mm.setGdt?.(domid, id, [], 0);
    return -XEN_EINVAL;
  }
  if (c.ldtEnts > 0) {
    mm.mmuextOp(domid, id, [{ cmd: SET_LDT, arg1Lo: c.ldtBase | 0, arg1Hi: 0, arg2: c.ldtEnts }]);
  }

  vcpu.boot({
    rip: BigInt(c.eip),
    rsp: BigInt(c.gprs[4] ?? 0),
    rsi: BigInt(c.gprs[6] ?? 0),
    cr3: 0n,
  });
  const cpu = vcpu.cpu;
  cpu.cr3 = l3 * 4096;
  cpu.flushTlb();
  const segments = vcpu.descriptors;
  if (!loadSegment(cpu, SEG_CS, c.cs, segments) || !ring1Segment(cpu.segAttr[SEG_CS] ?? 0, true)) {
    return -XEN_EINVAL;
  }
  if (!loadSegment(cpu, SEG_SS, c.ss, segments) || !ring1Segment(cpu.segAttr[SEG_SS] ?? 0, false)) {
    return -XEN_EINVAL;
  }
  for (let i = 0; i < 4; i++) {
    const seg = DATA_SEGS[i] ?? 0;
    if (!loadSegment(cpu, seg, c.dataSelectors[i] ?? 0, segments)) {
      cpu.segSel[seg] = 0; // a null (or unusable) data selector, as a failed load leaves it
      cpu.segBase[seg] = 0;
      cpu.segLimit[seg] = 0;
      cpu.segAttr[seg] = 0;
    }
  }
  for (let r = 0; r < 8; r++) cpu.lo[r] = (c.gprs[r] ?? 0) | 0;
  cpu.setRflags((c.eflags & ~EFLAGS_IOPL) | EFLAGS_IF | 2);
  vcpu.iopl = (c.eflags & EFLAGS_IOPL) >>> 12;
  cpu.updateMode();

  const t = vcpu.traps;
  t.address.fill(0);
  t.cs.fill(0);
  t.flags.fill(0);
  for (const e of c.traps) {
    t.address[e.vector] = e.address;
    t.cs[e.vector] = e.cs;
    t.flags[e.vector] = e.flags;
  }
  t.setCallbacks(
    c.eventCallbackCs,
    c.eventCallbackEip,
    c.failsafeCallbackCs,
    c.failsafeCallbackEip,
  );
  t.stackSwitch(c.kernelSs, c.kernelSp);
  return 0;
}
