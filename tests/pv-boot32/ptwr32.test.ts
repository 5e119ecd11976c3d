/**
 * Writable page-table emulation for a 32-bit PAE PV kernel (ring 1): with
 * VMASST_TYPE_writable_pagetables, a 32-bit store into the low half of an entry of one of its
 * own L1 tables is merged with the high half, validated and applied; without the assist, or for
 * an entry Xen refuses (a writable mapping of the page table itself), it is the guest's #PF —
 * here a crash, as the booted kernel has no #PF handler yet.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PV_RUN } from '@typevisor/hypervisor';
import { beforeAll, describe, expect, it } from 'vitest';
import { boot32, DOMID } from './boot-domain32.ts';

const GUEST_DIR = fileURLToPath(new URL('./guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
/** A spare, mapped, writable page of the guest image (`alias_page`) for the probe. */
const PROBE_VA = 0x107800;
/** A mapped page of the image whose L1 entry the stores rewrite. */
const TARGET_VA = 0x100000;
const EAX = 0;
const EDI = 7;

let kernel = '';

type Booted = ReturnType<typeof boot32>;

/** The L1 table's MFN and the guest-virtual address of TARGET_VA's entry in it. */
function l1Of(d: Booted): { l1: number; index: number; entryVa: number } {
  const mem = d.machine.memory;
  // PAE: CR3 → L3 (4 entries) → L2 → L1.
  const l3 = Math.floor(d.cpu.cr3 / 4096);
  const l3e = mem.read32(l3, (TARGET_VA >>> 30) * 8);
  const l2 = l3e >>> 12;
  const l2e = mem.read32(l2, ((TARGET_VA >>> 21) & 511) * 8);
  const l1 = l2e >>> 12;
  const p2m = d.machine.p2m(DOMID);
  let pfn = -1;
  for (let i = 0; i < 4096 && pfn < 0; i++) if (p2m.get(i) === l1) pfn = i;
  const index = (TARGET_VA >>> 12) & 511;
  return { l1, index, entryVa: pfn * 4096 + index * 8 };
}

/** Runs `mov %eax,(%edi)` at PROBE_VA with `value` into TARGET_VA's L1 entry. */
function store(d: Booted, value: number): number {
  const { entryVa } = l1Of(d);
  const mfn = d.machine.p2m(DOMID).get(PROBE_VA >> 12);
  d.machine.memory.writeBytes(mfn, PROBE_VA % 4096, Uint8Array.of(0x89, 0x07, 0xeb, 0xfe));
  d.cpu.rip = PROBE_VA;
  d.cpu.lo[EDI] = entryVa;
  d.cpu.lo[EAX] = value | 0;
  return d.vcpu.run(1);
}

describe.skipIf(!haveNasm && !process.env.CI)(
  'writable page tables on a 32-bit PAE PV kernel',
  () => {
    beforeAll(() => {
      const dir = mkdtempSync(join(tmpdir(), 'pv32-ptwr-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
      kernel = join(dir, 'pv32-hello.elf');
    });

    it('without VMASST_TYPE_writable_pagetables a store into an L1 table is a #PF', () => {
      const d = boot32(kernel);
      const { l1, index } = l1Of(d);
      const before = d.machine.memory.read32(l1, index * 8);
      expect(store(d, before)).toBe(PV_RUN.SHUTDOWN);
      expect(d.vcpu.crash?.code).toBe(14);
      expect(d.vcpu.ptwr.emulated).toBe(0);
    });

    it('with the assist, a low-half store remapping the entry to another frame of the domain is applied', () => {
      const d = boot32(kernel);
      expect(d.mm.vmAssist(DOMID, 0, 2)).toBe(0);
      const { l1, index } = l1Of(d);
      const other = d.machine.p2m(DOMID).get(PROBE_VA >> 12);
      const hiBefore = d.machine.memory.read32(l1, index * 8 + 4);
      const result = store(d, other * 4096 + 0x21); // present, accessed, read-only
      expect(d.vcpu.crash).toBeNull();
      expect(result).toBe(PV_RUN.BUDGET);
      expect(d.vcpu.ptwr.emulated).toBe(1);
      expect(d.cpu.rip).toBe(PROBE_VA + 2);
      expect(d.machine.memory.read32(l1, index * 8) >>> 12).toBe(other);
      expect(d.machine.memory.read32(l1, index * 8 + 4)).toBe(hiBefore);
    });

    it('with the assist, a writable mapping of the page table itself is refused: the guest gets the #PF, the entry is unchanged', () => {
      const d = boot32(kernel);
      expect(d.mm.vmAssist(DOMID, 0, 2)).toBe(0);
      const { l1, index } = l1Of(d);
      const before = d.machine.memory.read32(l1, index * 8);
      expect(store(d, l1 * 4096 + 0x63)).toBe(PV_RUN.SHUTDOWN);
      expect(d.vcpu.crash?.code).toBe(14);
      expect(d.vcpu.ptwr.emulated).toBe(0);
      expect(d.machine.memory.read32(l1, index * 8)).toBe(before);
    });
  },
);
