/**
 * PV direct paging vs PV shadow mode on a page-table-heavy workload: a 64-bit PV guest with 8
 * pinned address spaces switches base pointer (MMUEXT_NEW_BASEPTR) every round, touches 64
 * addresses over 16 pages (a quarter of them writes) and edits one PTE with a validated
 * update_va_mapping (UVMF_INVLPG). Direct paging walks the guest's tables on every TLB miss;
 * shadow mode refills from the shadows kept per root and drops the leaves derived from the
 * edited L1.
 */
import {
  ACCESS,
  Machine,
  MMUEXT,
  type MmuextOp,
  PAGING_MODE,
  PvMm,
  PvShadow,
  Translator,
  UVMF,
} from '@typevisor/mmu';
import { defineSuite } from '../harness.ts';

const SPACES = 8;
const TOUCHES = 64;

/** Roots pfn 0..7 → L3 8+s → L2 16+s → L1 24+s → data pages 40..55 (rotated per space). */
function buildGuest() {
  const machine = new Machine({ bytes: 8 * 1024 * 1024 });
  machine.populate(1, 0, 64);
  const mfn = (pfn: number) => machine.p2m(1).get(pfn);
  const mm = new PvMm(machine);
  mm.addDomain(1, { guestWidth: 64 });
  const reqs: number[] = [];
  const put = (table: number, slot: number, target: number) =>
    reqs.push(mfn(table) * 4096 + slot * 8, 0, (mfn(target) << 12) | 7, 0);
  for (let s = 0; s < SPACES; s++) {
    for (let p = 0; p < 16; p++) put(24 + s, p, 40 + ((p + s) & 15));
    put(16 + s, 0, 24 + s);
    put(8 + s, 0, 16 + s);
    put(s, 0, 8 + s);
  }
  if (mm.mmuUpdate(1, Int32Array.from(reqs), reqs.length / 4) !== 0) throw new Error('build');
  const pins: MmuextOp[] = [];
  for (let s = 0; s < SPACES; s++)
    pins.push({ cmd: MMUEXT.MMUEXT_PIN_L4_TABLE, arg1Lo: mfn(s), arg1Hi: 0, arg2: 0 });
  if (mm.mmuextOp(1, 0, pins) !== 0) throw new Error('pin');
  const switches: MmuextOp[][] = [];
  for (let s = 0; s < SPACES; s++)
    switches.push([{ cmd: MMUEXT.MMUEXT_NEW_BASEPTR, arg1Lo: mfn(s), arg1Hi: 0, arg2: 0 }]);
  const data = new Int32Array(16);
  for (let i = 0; i < 16; i++) data[i] = (mfn(40 + i) << 12) | 7;
  return { machine, mm, mfn, switches, data };
}

const VA = new Int32Array(TOUCHES);
const ACC = new Int32Array(TOUCHES);
for (let i = 0; i < TOUCHES; i++) {
  VA[i] = ((i * 5) & 15) << 12;
  ACC[i] = (i & 3) === 0 ? ACCESS.WRITE | ACCESS.USER : ACCESS.USER;
}

const direct = buildGuest();
const directCpu = new Translator(direct.machine.memory, { physAddrBits: 40 });
direct.mm.attachTlb(1, 0, directCpu);
direct.mm.mmuextOp(1, 0, direct.switches[0] as MmuextOp[]);
directCpu.setPaging({
  mode: PAGING_MODE.LONG,
  cr3Lo: direct.mfn(0) * 4096,
  cr3Hi: 0,
  wp: true,
  pse: false,
  nxe: true,
});

const sh = buildGuest();
sh.mm.mmuextOp(1, 0, sh.switches[0] as MmuextOp[]);
const shadow = new PvShadow(sh.mm, 1, 0);

/** One round: switch, touch, edit. `cpu` is the translation port in use. */
function round(
  g: ReturnType<typeof buildGuest>,
  cpu: { translate(lo: number, hi: number, access: number): number },
  n: number,
  afterSwitch: ((s: number) => void) | null,
): number {
  const s = n & (SPACES - 1);
  g.mm.mmuextOp(1, 0, g.switches[s] as MmuextOp[]);
  if (afterSwitch !== null) afterSwitch(s);
  let sum = 0;
  for (let i = 0; i < TOUCHES; i++)
    sum = (sum + cpu.translate(VA[i] as number, 0, ACC[i] as number)) | 0;
  const page = n & 15;
  const rc = g.mm.updateVaMapping(
    1,
    0,
    page << 12,
    0,
    g.data[(n * 3) & 15] as number,
    0,
    UVMF.UVMF_INVLPG,
  );
  return (sum + rc) | 0;
}

const directSwitch = (s: number) => directCpu.setCr3(direct.mfn(s) * 4096, 0);

// Both modes must compute the same translations: 64 rounds on fresh guests, compared round by round.
{
  const d = buildGuest();
  const dCpu = new Translator(d.machine.memory, { physAddrBits: 40 });
  d.mm.attachTlb(1, 0, dCpu);
  d.mm.mmuextOp(1, 0, d.switches[0] as MmuextOp[]);
  dCpu.setPaging({
    mode: PAGING_MODE.LONG,
    cr3Lo: d.mfn(0) * 4096,
    cr3Hi: 0,
    wp: true,
    pse: false,
    nxe: true,
  });
  const s = buildGuest();
  s.mm.mmuextOp(1, 0, s.switches[0] as MmuextOp[]);
  const sCpu = new PvShadow(s.mm, 1, 0);
  for (let n = 0; n < 64; n++) {
    const a = round(d, dCpu, n, (k) => dCpu.setCr3(d.mfn(k) * 4096, 0));
    const b = round(s, sCpu, n, null);
    if (a !== b) throw new Error(`pv-shadow bench: round ${n} differs (${a} vs ${b})`);
  }
}

export default defineSuite({
  name: 'mmu/pv-shadow',
  description:
    'PV guest with 8 pinned address spaces (NEW_BASEPTR, 64 accesses and one validated update_va_mapping per round): direct paging vs PV shadow mode.',
  unit: 'M accesses/s',
  opsPerIter: TOUCHES,
  divisor: 1e6,
  cases: [
    {
      name: 'pv-direct',
      run(iters) {
        let sum = 0;
        for (let n = 0; n < iters; n++) sum = (sum + round(direct, directCpu, n, directSwitch)) | 0;
        return sum;
      },
    },
    {
      name: 'pv-shadow',
      run(iters) {
        let sum = 0;
        for (let n = 0; n < iters; n++) sum = (sum + round(sh, shadow, n, null)) | 0;
        return sum;
      },
    },
  ],
});
