import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildPvLayout,
  type PvLayout,
  parseElf,
  readXenKernelInfo,
  ToolstackError,
  XEN_ELFNOTE,
} from '../src/index.ts';
import { buildElf } from './support/elf-writer.ts';

const GRUB64 = '/usr/lib/grub-xen/grub-x86_64-xen.bin';
const GRUB32 = '/usr/lib/grub-xen/grub-i386-xen.bin';
const haveGrub = existsSync(GRUB64);
const golden = readFileSync(
  new URL('./golden/xen-4.17-grub-x86_64-64M-builder.txt', import.meta.url),
  'utf8',
);

/** A P2M like a fresh domain's: PFN n backed by machine frame 0x2a800 + n. */
const p2m = (pfn: number) => 0x2a800 + pfn;

function layoutOf(file: string, nrPages: number, cmdline = ''): PvLayout {
  const elf = parseElf(readFileSync(file), file);
  return buildPvLayout({
    kernel: readXenKernelInfo(elf, file),
    elf,
    nrPages,
    cmdline,
    pfnToMfn: p2m,
    sharedInfoMfn: 0x30458,
    storeEvtchn: 1,
    consoleEvtchn: 2,
  });
}

/** Walks the built page tables like the MMU would (4-level or PAE), returning the PTE. */
function walk(layout: PvLayout, va: bigint): bigint | undefined {
  const mfnToPfn = (mfn: bigint) => Number(mfn) - 0x2a800;
  const read = (pfn: number, idx: number) => {
    const page = layout.pages.get(pfn);
    return page === undefined ? 0n : new DataView(page.buffer).getBigUint64(idx * 8, true);
  };
  let table = mfnToPfn(BigInt(layout.vcpu.topLevelMfn));
  const shifts = layout.levels === 4 ? [39n, 30n, 21n, 12n] : [30n, 21n, 12n];
  for (const [i, shift] of shifts.entries()) {
    const bits = layout.levels === 3 && i === 0 ? 3n : 511n;
    const e = read(table, Number((va >> shift) & bits));
    if ((e & 1n) === 0n) return undefined;
    if (i === shifts.length - 1) return e;
    table = mfnToPfn((e >> 12n) & 0xff_ffff_ffffn);
  }
  return undefined;
}

describe.skipIf(!haveGrub && !process.env.CI)("the PV builder on Debian's GRUB images", () => {
  it('lays out grub-x86_64-xen with 64 MiB exactly as Xen 4.17 did (golden xl -vvv log)', () => {
    const layout = layoutOf(GRUB64, 0x4000);
    // Every segment line Xen logged, reproduced from our layout in the same format.
    const ours = layout.segments.map((s) => {
      const end = s.vstart + BigInt(s.pages) * 4096n;
      return s.pages === 1 && s.name !== 'kernel'
        ? `xc_dom_alloc_page   :   ${s.name.padEnd(12)} : 0x${s.vstart.toString(16)} (pfn 0x${s.pfn.toString(16)})`
        : `${s.name.padEnd(12)} : 0x${s.vstart.toString(16)} -> 0x${(s.name === 'kernel' ? 0x613dc8n : end).toString(16)}  (pfn 0x${s.pfn.toString(16)} + 0x${s.pages.toString(16)} pages)`;
    });
    for (const line of ours) expect(golden).toContain(line);
    expect(golden).toContain(`virt_pgtab_end : 0x${layout.virtPgtabEnd.toString(16)}`);
    expect(golden).toContain(`vcpu_x86_64: cr3: pfn 0x${layout.pageTablePfns[0]?.toString(16)}`);
    expect(layout.segments.map((s) => s.name)).toEqual([
      'kernel',
      'phys2mach',
      'start info',
      'xenstore',
      'console',
      'page tables',
      'boot stack',
    ]);
  });

  it('maps every bootstrap page 1:1 and the page tables read-only', () => {
    const layout = layoutOf(GRUB64, 0x4000);
    for (let va = 0n; va < layout.virtPgtabEnd; va += 4096n) {
      const pte = walk(layout, va);
      const pfn = Number(va >> 12n);
      expect(pte, `va 0x${va.toString(16)}`).toBe(
        (BigInt(p2m(pfn)) << 12n) | (layout.pageTablePfns.includes(pfn) ? 0x21n : 0x23n),
      );
    }
    expect(walk(layout, layout.virtPgtabEnd)).toBeUndefined();
  });

  it('fills start_info, the P2M list, the console ring and the registers (x86_64)', () => {
    const layout = layoutOf(GRUB64, 0x4000, 'console=hvc0');
    const si = layout.pages.get(layout.startInfoPfn) as Uint8Array;
    const dv = new DataView(si.buffer);
    expect(new TextDecoder().decode(si.subarray(0, 14))).toBe('xen-3.0-x86_64');
    expect(dv.getBigUint64(32, true)).toBe(0x4000n); // nr_pages
    expect(dv.getBigUint64(40, true)).toBe(0x30458000n); // shared_info machine address
    expect(dv.getBigUint64(56, true)).toBe(BigInt(p2m(0x635))); // store_mfn
    expect(dv.getUint32(64, true)).toBe(1);
    expect(dv.getBigUint64(72, true)).toBe(BigInt(p2m(0x636))); // console mfn
    expect(dv.getUint32(80, true)).toBe(2);
    expect(dv.getBigUint64(88, true)).toBe(0x637000n); // pt_base
    expect(dv.getBigUint64(96, true)).toBe(7n); // nr_pt_frames
    expect(dv.getBigUint64(104, true)).toBe(0x614000n); // mfn_list
    expect(new TextDecoder().decode(si.subarray(128, 128 + 12))).toBe('console=hvc0');
    const p2mPage = new DataView((layout.pages.get(0x614) as Uint8Array).buffer);
    expect(p2mPage.getBigUint64(5 * 8, true)).toBe(BigInt(p2m(5)));
    expect((layout.pages.get(layout.consolePfn) as Uint8Array)[3088]).toBe(1);
    expect(layout.vcpu).toMatchObject({
      rip: 0n,
      rsp: 0x63f000n,
      rsi: 0x634000n,
      cs: 0xe033,
      ss: 0xe02b,
      ds: 0,
      rflags: 0x200,
    });
    expect(layout.vcpu.cr3).toBe(BigInt(p2m(0x637)) << 12n);
    // The kernel's first bytes are where the ELF put them.
    expect(Array.from((layout.pages.get(0) as Uint8Array).subarray(0, 16))).toEqual(
      Array.from(readFileSync(GRUB64).subarray(0x1000, 0x1010)),
    );
  });

  it('lays out grub-i386-xen as a PAE guest: 3 levels, L3 slot 3 populated, extended CR3', () => {
    const layout = layoutOf(GRUB32, 0x4000);
    expect(layout.levels).toBe(3);
    const l3 = new DataView(
      (layout.pages.get(layout.pageTablePfns[0] as number) as Uint8Array).buffer,
    );
    expect(l3.getBigUint64(0, true) & 0xfffn).toBe(0x1n); // PDPTEs carry only the present bit
    expect(l3.getBigUint64(3 * 8, true) & 1n).toBe(1n);
    const si = new DataView((layout.pages.get(layout.startInfoPfn) as Uint8Array).buffer);
    expect(si.getUint32(32, true)).toBe(0x4000);
    expect(si.getUint32(64, true)).toBe(layout.pageTablePfns.length);
    for (let va = 0n; va < layout.virtPgtabEnd; va += 4096n) expect(walk(layout, va)).toBeDefined();
    const top = layout.vcpu.topLevelMfn;
    expect(layout.vcpu.cr3).toBe(BigInt(((top << 12) | (top >>> 20)) >>> 0));
    expect(layout.vcpu).toMatchObject({ cs: 0xe019, ss: 0xe021, ds: 0xe021 });
  });

  it('refuses a domain too small for its kernel, naming both sizes', () => {
    expect(() => layoutOf(GRUB64, 1024)).toThrow(ToolstackError);
    expect(() => layoutOf(GRUB64, 1024)).toThrow(
      /has 1024 pages \(4 MiB\) but its kernel and bootstrap area need 2048 \(8 MiB\)/,
    );
  });
});

describe('the PV builder on synthetic kernels', () => {
  it('places a ramdisk after the kernel and records it in start_info (x86_32p, XTF-style)', () => {
    const elf = parseElf(
      buildElf({
        bits: 32,
        entry: 0x100000n,
        vaddr: 0x100000n,
        code: new Uint8Array(0x3000).fill(0xcc),
        notes: [
          { type: XEN_ELFNOTE.XEN_VERSION, value: 'xen-3.0' },
          { type: XEN_ELFNOTE.LOADER, value: 'generic' },
          { type: XEN_ELFNOTE.PAE_MODE, value: 'yes' },
          { type: XEN_ELFNOTE.HYPERCALL_PAGE, value: 0x101000n },
        ],
      }),
    );
    const ramdisk = new Uint8Array(5000).fill(7);
    const layout = buildPvLayout({
      kernel: readXenKernelInfo(elf),
      elf,
      nrPages: 4096,
      ramdisk,
      cmdline: 'x',
      pfnToMfn: (pfn) => pfn + 100,
      sharedInfoMfn: 9,
      storeEvtchn: 1,
      consoleEvtchn: 2,
    });
    expect(layout.segments.slice(0, 3).map((s) => [s.name, s.pfn, s.pages])).toEqual([
      ['kernel', 0x100, 3],
      ['ramdisk', 0x103, 2],
      ['phys2mach', 0x105, 4],
    ]);
    expect(layout.hypercallPagePfn).toBe(0x101);
    const si = new DataView((layout.pages.get(layout.startInfoPfn) as Uint8Array).buffer);
    expect(si.getUint32(72, true)).toBe(0x103000); // mod_start (VA)
    expect(si.getUint32(76, true)).toBe(5000);
    expect((layout.pages.get(0x104) as Uint8Array)[903]).toBe(7);
    expect((layout.pages.get(0x104) as Uint8Array)[904]).toBe(0);
  });

  it('rejects a command line that does not fit start_info', () => {
    const elf = parseElf(
      buildElf({
        bits: 64,
        entry: 0n,
        vaddr: 0n,
        code: new Uint8Array(16),
        notes: [
          { type: XEN_ELFNOTE.XEN_VERSION, value: 'xen-3.0' },
          { type: XEN_ELFNOTE.LOADER, value: 'generic' },
        ],
      }),
    );
    expect(() =>
      buildPvLayout({
        kernel: readXenKernelInfo(elf),
        elf,
        nrPages: 4096,
        cmdline: 'x'.repeat(1024),
        pfnToMfn: (p) => p,
        sharedInfoMfn: 1,
        storeEvtchn: 1,
        consoleEvtchn: 2,
      }),
    ).toThrow(/command line is 1024 bytes; at most 1023 fit in start_info/);
  });
});
