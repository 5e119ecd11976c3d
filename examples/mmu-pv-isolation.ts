/**
 * Xen's PV memory rules with @typevisor/mmu: a guest builds its own 4-level page tables with
 * mmu_update, pins them, and is refused a writable mapping of a page-table page — the check
 * that keeps a PV guest from editing its own page tables behind the hypervisor's back. Then a
 * per-vCPU translator walks the validated tables.
 *
 * Run: pnpm tsx --conditions=@typevisor/source examples/mmu-pv-isolation.ts
 */
import { ACCESS, Machine, MMUEXT, PAGING_MODE, PvMm, Translator } from '@typevisor/mmu';

const machine = new Machine({ bytes: 4 * 1024 ** 3 }); // 4 GiB of machine memory, allocated lazily
machine.populate(1, 0, 16); // domain 1 owns 16 pages, PFNs 0..15
const mfn = (pfn: number): number => machine.p2m(1).get(pfn);
const mm = new PvMm(machine);
mm.addDomain(1, { guestWidth: 64 });

// An mmu_update request as the guest writes it: { u64 ptr; u64 val } as four int32 halves.
const update = (table: number, slot: number, target: number, flags: number): number =>
  mm.mmuUpdate(1, Int32Array.of(mfn(table) * 4096 + slot * 8, 0, mfn(target) * 4096 + flags, 0), 1);

console.log(`L1[4] -> data page: ${update(3, 4, 8, 0x7)}`);
console.log(`L2[0] -> L1: ${update(2, 0, 3, 0x7)}`);
console.log(`L3[0] -> L2: ${update(1, 0, 2, 0x7)}`);
console.log(`L4[0] -> L3: ${update(0, 0, 1, 0x7)}`);
const pinned = mm.mmuextOp(1, 0, [
  { cmd: MMUEXT.MMUEXT_PIN_L4_TABLE, arg1Lo: mfn(0), arg1Hi: 0, arg2: 0 },
  { cmd: MMUEXT.MMUEXT_NEW_BASEPTR, arg1Lo: mfn(0), arg1Hi: 0, arg2: 0 },
]);
console.log(`pin L4 and load it as the base pointer: ${pinned}`);
console.log(
  `map the L1 itself writable: ${update(3, 5, 3, 0x3)} (-EBUSY: page tables stay read-only)`,
);

const tlb = new Translator(machine.memory);
mm.attachTlb(1, 0, tlb);
tlb.setPaging({
  mode: PAGING_MODE.LONG,
  cr3Lo: mfn(0) * 4096,
  cr3Hi: 0,
  wp: true,
  pse: false,
  nxe: true,
});
const hit = tlb.translate(0x4000, 0, ACCESS.WRITE | ACCESS.USER);
console.log(`guest VA 0x4000 -> machine frame of PFN 8: ${hit === mfn(8)}`);
