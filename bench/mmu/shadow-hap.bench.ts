/**
 * Shadow paging vs two-dimensional (HAP-style) walks on a page-table-heavy workload: a guest
 * with 8 address spaces switches CR3 every round, touches 64 addresses over 16 pages (reads and
 * writes), and edits one of its PTEs (a guest store plus INVLPG). HAP walks guest tables through
 * the P2M on every TLB miss; shadow paging keeps shadows per address space and, after each
 * emulated page-table write, drops the shadow leaves that used the written entry.
 */
import {
  ACCESS,
  Machine,
  PAGING_MODE,
  SHADOW_FAULT,
  ShadowPager,
  Translator,
} from '@typevisor/mmu';
import { defineSuite } from '../harness.ts';

const SPACES = 8;
const TOUCHES = 64;

/** Guest layout (gfns): L4s 1..8 → shared L3 9 → L2 10 → L1s 11..18 (one per space); data 20..35; linear map L1 19. */
function buildGuest() {
  const machine = new Machine({ bytes: 8 * 1024 * 1024 });
  machine.populate(7, 0, 3);
  machine.populate(1, 0, 64);
  const p2m = machine.p2m(1);
  const w = (gfn: number, idx: number, lo: number) =>
    machine.memory.write32(p2m.get(gfn), idx * 8, lo);
  for (let s = 0; s < SPACES; s++) {
    w(1 + s, 0, ((9 + s * 0) << 12) | 7);
    w(1 + s, 1, ((40 + s) << 12) | 7); // per-space L3 for the private half
  }
  w(9, 0, (10 << 12) | 7);
  w(10, 1, (19 << 12) | 3); // linear map at 2 MiB
  for (let i = 0; i < 64; i++) w(19, i, (i << 12) | 3);
  for (let s = 0; s < SPACES; s++) {
    w(40 + s, 0, ((48 + s) << 12) | 7); // L3 → L2 48+s
    w(48 + s, 0, ((11 + s) << 12) | 7); // L2 → L1 11+s
    for (let p = 0; p < 16; p++) w(11 + s, p, ((20 + ((p + s) & 15)) << 12) | 7);
  }
  return { machine, p2m };
}

const VA = new Int32Array(TOUCHES);
const ACC = new Int32Array(TOUCHES);
for (let i = 0; i < TOUCHES; i++) {
  VA[i] = ((i * 5) & 15) << 12;
  ACC[i] = (i & 3) === 0 ? ACCESS.WRITE | ACCESS.USER : ACCESS.USER;
}
const cfg = (space: number) =>
  ({
    mode: PAGING_MODE.LONG,
    cr3Lo: (1 + space) << 12,
    cr3Hi: 0,
    wp: true,
    pse: false,
    nxe: true,
  }) as const;

const hap = buildGuest();
const hapCpu = new Translator(hap.machine.memory, { physAddrBits: 40 });
hapCpu.walker.p2m = hap.p2m;
hapCpu.setPaging(cfg(0));

const sh = buildGuest();
const shadow = new ShadowPager(sh.machine, 1);
shadow.setGuestPaging(cfg(0));

export default defineSuite({
  name: 'mmu/shadow-vs-hap',
  description:
    'Page-table-heavy guest (CR3 switch, 64 accesses and one PTE edit per round): HAP-style two-dimensional walks vs shadow page tables with write-protected guest tables.',
  unit: 'M accesses/s',
  opsPerIter: TOUCHES,
  divisor: 1e6,
  cases: [
    {
      name: 'hap',
      run(iters) {
        let sum = 0;
        const mem = hap.machine.memory;
        for (let n = 0; n < iters; n++) {
          const s = n & (SPACES - 1);
          hapCpu.setCr3((1 + s) << 12, 0);
          for (let i = 0; i < TOUCHES; i++)
            sum = (sum + hapCpu.translate(VA[i] as number, 0, ACC[i] as number)) | 0;
          // PTE edit: a guest store into its L1 (no trap under HAP) and INVLPG.
          const l1 = hapCpu.translate(0x200000 + ((11 + s) << 12), 0, ACCESS.WRITE);
          mem.write32(l1, (n & 15) * 8, ((20 + ((n * 3) & 15)) << 12) | 7);
          hapCpu.invlpg((n & 15) << 12, 0);
        }
        return sum;
      },
    },
    {
      name: 'shadow',
      run(iters) {
        let sum = 0;
        const mem = sh.machine.memory;
        for (let n = 0; n < iters; n++) {
          const s = n & (SPACES - 1);
          shadow.setGuestPaging(cfg(s));
          for (let i = 0; i < TOUCHES; i++)
            sum = (sum + shadow.translate(VA[i] as number, 0, ACC[i] as number)) | 0;
          let l1 = shadow.translate(0x200000 + ((11 + s) << 12), 0, ACCESS.WRITE);
          const emulate = l1 < 0;
          if (emulate) {
            if (shadow.status !== SHADOW_FAULT.EMULATE_WRITE)
              throw new Error('unexpected shadow fault');
            l1 = shadow.emulateMfn;
          }
          mem.write32(l1, (n & 15) * 8, ((20 + ((n * 3) & 15)) << 12) | 7);
          // The hypervisor knows which entry it wrote: only leaves that used it are dropped.
          if (emulate) shadow.emulatedWrite(l1, (n & 15) * 8, 8);
          shadow.invlpg((n & 15) << 12, 0);
        }
        return sum;
      },
    },
  ],
});
