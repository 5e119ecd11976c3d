/**
 * The PV domain builder's start-of-day layout, as Xen's libxenguest lays it out
 * (`xc_dom_build_image`, `alloc_pgtables_pv`, `setup_pgtables_pv`, `start_info_x86_*`):
 * from virt_base, in consecutive PFNs, the kernel, the ramdisk, the P2M list, the
 * start_info page, the xenstore and console ring pages, the bootstrap page tables and the
 * boot stack, all mapped 1:1 up to a 4 MiB boundary with at least 512 KiB of slack. The
 * result is plain data — page contents by PFN and the initial vCPU registers — that a
 * hypervisor copies into the domain's frames.
 *
 * @see xen/include/public/xen.h ("Start-of-day memory layout"), tools/libs/guest/xg_dom_x86.c
 */
import { ToolstackError } from '../errors.ts';
import { type ElfImage, PT_LOAD } from './elf.ts';
import type { PvGuestType, XenKernelInfo } from './xen-notes.ts';

/** Bytes per page. */
export const PAGE_SIZE = 4096;
/** MAX_GUEST_CMDLINE: bytes of `start_info.cmd_line`, including the terminating NUL. */
export const MAX_GUEST_CMDLINE = 1024;
/** XENCONSOLE_DISCONNECTED, the console ring's initial `connection` value. */
export const XENCONSOLE_DISCONNECTED = 1;
/** Offset of `connection` in `struct xencons_interface`. */
const XENCONS_CONNECTION_OFFSET = 3088;

/** Start-of-day segment names, as libxenguest's `xc_dom_alloc_segment` logs them. */
export type PvSegmentName =
  | 'kernel'
  | 'ramdisk'
  | 'phys2mach'
  | 'start info'
  | 'xenstore'
  | 'console'
  | 'page tables'
  | 'boot stack';

/** One allocated region of the start-of-day layout. */
export interface PvSegment {
  /** What it holds. */
  readonly name: PvSegmentName;
  /** First PFN. */
  readonly pfn: number;
  /** Number of pages. */
  readonly pages: number;
  /** Guest virtual address of the first page. */
  readonly vstart: bigint;
}

/** The registers a PV vCPU starts with (`vcpu_guest_context` at boot). */
export interface PvBootRegisters {
  /** Instruction pointer: the kernel's virtual entry. */
  readonly rip: bigint;
  /** Stack pointer: the end of the boot stack page. */
  readonly rsp: bigint;
  /** ESI/RSI: the virtual address of start_info. */
  readonly rsi: bigint;
  /** EFLAGS (IF set). */
  readonly rflags: number;
  /** Code selector (FLAT_KERNEL_CS). */
  readonly cs: number;
  /** Stack selector (FLAT_KERNEL_SS / DS). */
  readonly ss: number;
  /** DS, ES, FS and GS (FLAT_KERNEL_DS on x86_32, null on x86_64). */
  readonly ds: number;
  /** CR3 as Xen expects it: the top-level table's MFN, in "extended CR3" packing on x86_32. */
  readonly cr3: bigint;
  /** MFN of the top-level page table (to pin before boot). */
  readonly topLevelMfn: number;
  /** The kernel stack (kernel_ss, kernel_sp) Xen uses for ring transitions. */
  readonly kernelSs: number;
  /** See {@link PvBootRegisters.kernelSs}. */
  readonly kernelSp: bigint;
}

/** What the builder needs besides the kernel. */
export interface PvLayoutInput {
  /** The kernel's Xen notes, from {@link readXenKernelInfo}. */
  readonly kernel: XenKernelInfo;
  /** The kernel image (its PT_LOAD segments are copied). */
  readonly elf: ElfImage;
  /** Pages of memory the domain starts with (`start_info.nr_pages`). */
  readonly nrPages: number;
  /** The initial ramdisk, if any. */
  readonly ramdisk?: Uint8Array;
  /** The kernel command line (at most 1023 bytes). */
  readonly cmdline: string;
  /** The domain's P2M: machine frame of each pseudo-physical frame. */
  readonly pfnToMfn: (pfn: number) => number;
  /** Machine frame of the domain's shared_info page. */
  readonly sharedInfoMfn: number;
  /** Event channel of the xenstore ring. */
  readonly storeEvtchn: number;
  /** Event channel of the console ring. */
  readonly consoleEvtchn: number;
  /** start_info flags (SIF_*), 0 for a domU. */
  readonly flags?: number;
}

/** The complete start-of-day layout. */
export interface PvLayout {
  /** The PV ABI. */
  readonly guestType: PvGuestType;
  /** The allocated segments, in allocation order. */
  readonly segments: readonly PvSegment[];
  /** End (exclusive) of the bootstrap mapping. */
  readonly virtPgtabEnd: bigint;
  /** Contents of every page the builder writes, by PFN (other pages are zero). */
  readonly pages: ReadonlyMap<number, Uint8Array>;
  /** PFNs of the bootstrap page tables (mapped read-only, to be validated as page tables). */
  readonly pageTablePfns: readonly number[];
  /** Levels of paging: 3 (x86_32 PAE) or 4 (x86_64). */
  readonly levels: 3 | 4;
  /** PFN of start_info. */
  readonly startInfoPfn: number;
  /** PFN of the xenstore ring page. */
  readonly storePfn: number;
  /** PFN of the console ring page. */
  readonly consolePfn: number;
  /** PFN the hypervisor must fill with hypercall stubs, if the kernel asked for one. */
  readonly hypercallPagePfn?: number;
  /** The initial vCPU registers. */
  readonly vcpu: PvBootRegisters;
}

interface Level {
  /** log2 of the bytes one entry of a table at this level maps. */
  readonly shift: number;
  readonly entries: number;
}

const LEVELS_64: readonly Level[] = [
  { shift: 12, entries: 512 },
  { shift: 21, entries: 512 },
  { shift: 30, entries: 512 },
  { shift: 39, entries: 512 },
];
const LEVELS_PAE: readonly Level[] = [
  { shift: 12, entries: 512 },
  { shift: 21, entries: 512 },
  { shift: 30, entries: 4 },
];

/** `_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED`: data pages in the bootstrap map. */
const L1_PROT = 0x23n;
/** `_PAGE_PRESENT | _PAGE_ACCESSED`: the page-table pages themselves, read-only. */
const L1_PROT_RO = 0x21n;
/** `_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_USER`: directory entries. */
const LN_PROT = 0x67n;
/** A PAE PDPTE may only have the present bit (the others are reserved). */
const L3_PROT_PAE = 0x01n;

function fail(msg: string): never {
  throw new ToolstackError('CONFIG', `domain builder: ${msg}`);
}

/** Page tables needed to map [from, to] (inclusive), top level first, per libxenguest's count. */
function countTables(levels: readonly Level[], from: bigint, to: bigint, pae: boolean): number[] {
  const counts: number[] = [];
  for (let l = levels.length - 1; l >= 0; l--) {
    if (l === levels.length - 1) {
      counts.push(1);
      continue;
    }
    const span = BigInt((levels[l + 1] as Level).shift); // bytes one table at level l covers
    let n = Number((to >> span) - (from >> span) + 1n);
    // Xen needs an L2 under PAE L3 slot 3 (its own mappings live there).
    if (pae && l === 1 && to >> 30n < 3n) n++;
    counts.push(n);
  }
  return counts;
}

function writeUint(page: Uint8Array, offset: number, value: bigint, bytes: 4 | 8): void {
  const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
  if (bytes === 4) dv.setUint32(offset, Number(value & 0xffff_ffffn), true);
  else dv.setBigUint64(offset, value, true);
}

/**
 * Lays out a PV domain's start-of-day memory as Xen's builder does. Throws a `CONFIG`
 * {@link ToolstackError} when the domain is too small for its kernel and bootstrap data.
 */
export function buildPvLayout(input: PvLayoutInput): PvLayout {
  const { kernel, elf } = input;
  const is64 = kernel.guestType === 'xen-3.0-x86_64';
  const wordBytes: 4 | 8 = is64 ? 8 : 4;
  const levels = is64 ? LEVELS_64 : LEVELS_PAE;
  const virtBase = kernel.virtBase;
  const page = BigInt(PAGE_SIZE);
  const toPfn = (va: bigint): number => Number((va - virtBase) / page);
  const toVa = (pfn: number): bigint => virtBase + BigInt(pfn) * page;

  if (input.cmdline.length >= MAX_GUEST_CMDLINE) {
    fail(
      `command line is ${input.cmdline.length} bytes; at most ${MAX_GUEST_CMDLINE - 1} fit in start_info`,
    );
  }
  const segments: PvSegment[] = [];
  const kstartPfn = toPfn(kernel.virtKstart & ~(page - 1n));
  const kendPfn = Number((kernel.virtKend - virtBase + page - 1n) / page);
  segments.push({
    name: 'kernel',
    pfn: kstartPfn,
    pages: kendPfn - kstartPfn,
    vstart: toVa(kstartPfn),
  });
  let next = kendPfn;
  const alloc = (name: PvSegmentName, bytes: number): PvSegment => {
    const pages = Math.max(1, Math.ceil(bytes / PAGE_SIZE));
    const seg = { name, pfn: next, pages, vstart: toVa(next) };
    segments.push(seg);
    next += pages;
    return seg;
  };
  const ramdisk =
    input.ramdisk === undefined || input.ramdisk.length === 0
      ? undefined
      : alloc('ramdisk', input.ramdisk.length);
  const p2m = alloc('phys2mach', input.nrPages * wordBytes);
  const startInfo = alloc('start info', PAGE_SIZE);
  const store = alloc('xenstore', PAGE_SIZE);
  const console = alloc('console', PAGE_SIZE);

  // alloc_pgtables_pv: grow the mapping until it covers its own page tables, the boot
  // stack and 512 KiB of slack, rounded up to 4 MiB.
  const extraPages = 1 + (512 * 1024) / PAGE_SIZE;
  let pages = extraPages;
  let tryVirtEnd: bigint;
  let counts: number[];
  for (;;) {
    tryVirtEnd = (toVa(next) + BigInt(pages) * page) | 0x3f_ffffn;
    counts = countTables(levels, virtBase, tryVirtEnd, !is64);
    const tables = counts.reduce((a, b) => a + b, 0);
    pages = tables + extraPages;
    if (toVa(next) + BigInt(pages) * page <= tryVirtEnd + 1n) break;
  }
  const virtPgtabEnd = tryVirtEnd + 1n;
  const nrTables = counts.reduce((a, b) => a + b, 0);
  const pt = alloc('page tables', nrTables * PAGE_SIZE);
  const stack = alloc('boot stack', PAGE_SIZE);
  const mappedPages = toPfn(virtPgtabEnd);
  if (mappedPages > input.nrPages) {
    fail(
      `the domain has ${input.nrPages} pages (${input.nrPages >> 8} MiB) but its kernel and bootstrap area need ${mappedPages} (${Math.ceil(mappedPages / 256)} MiB)`,
    );
  }
  if (!is64 && virtPgtabEnd > 0xf580_0000n)
    fail('the bootstrap area reaches into the hypervisor hole at 0xF5800000');

  const contents = new Map<number, Uint8Array>();
  const pageOf = (pfn: number): Uint8Array => {
    let p = contents.get(pfn);
    if (p === undefined) {
      p = new Uint8Array(PAGE_SIZE);
      contents.set(pfn, p);
    }
    return p;
  };

  // Kernel: copy each PT_LOAD segment's file bytes to its virtual address.
  const virtOffset = kernel.virtBase - kernel.paddrOffset;
  for (const seg of elf.segments) {
    if (seg.type !== PT_LOAD || seg.filesz === 0) continue;
    let va = seg.paddr + virtOffset;
    let src = seg.offset;
    let left = seg.filesz;
    while (left > 0) {
      const inPage = Number(va & (page - 1n));
      const n = Math.min(left, PAGE_SIZE - inPage);
      pageOf(toPfn(va)).set(elf.bytes.subarray(src, src + n), inPage);
      va += BigInt(n);
      src += n;
      left -= n;
    }
  }
  if (ramdisk !== undefined && input.ramdisk !== undefined) {
    for (let i = 0; i < ramdisk.pages; i++) {
      const chunk = input.ramdisk.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
      if (chunk.length > 0) pageOf(ramdisk.pfn + i).set(chunk);
    }
  }
  // P2M list.
  for (let pfn = 0; pfn < input.nrPages; pfn++) {
    const off = pfn * wordBytes;
    writeUint(
      pageOf(p2m.pfn + Math.floor(off / PAGE_SIZE)),
      off % PAGE_SIZE,
      BigInt(input.pfnToMfn(pfn)),
      wordBytes,
    );
  }
  // Console ring starts disconnected; the xenstore ring page is all zero.
  (pageOf(console.pfn) as Uint8Array)[XENCONS_CONNECTION_OFFSET] = XENCONSOLE_DISCONNECTED;
  contents.set(store.pfn, new Uint8Array(PAGE_SIZE));

  // Page tables: top level first, then each lower level, covering [virtBase, virtPgtabEnd).
  const tablePfns: number[][] = [];
  let ptNext = pt.pfn;
  for (const n of counts) {
    const level: number[] = [];
    for (let i = 0; i < n; i++) level.push(ptNext++);
    tablePfns.push(level);
  }
  const pageTablePfns = tablePfns.flat();
  const isPtPfn = (pfn: number): boolean => pfn >= pt.pfn && pfn < pt.pfn + pt.pages;
  const mfn = (pfn: number): bigint => BigInt(input.pfnToMfn(pfn));
  const last = virtPgtabEnd - 1n;
  // tablePfns[0] is the top level; tablePfns[k] is level (levels.length - 1 - k).
  for (let k = 0; k < levels.length; k++) {
    const l = levels.length - 1 - k;
    const level = levels[l] as Level;
    const tables = tablePfns[k] as number[];
    const tableSpan = BigInt(level.shift) + BigInt(Math.log2(level.entries)); // bytes per table
    const firstTableVa = k === 0 ? 0n : (virtBase >> tableSpan) << tableSpan;
    for (let t = 0; t < tables.length; t++) {
      const tablePfn = tables[t] as number;
      const tableVa = firstTableVa + (BigInt(t) << tableSpan);
      const pageBytes = pageOf(tablePfn);
      for (let e = 0; e < level.entries; e++) {
        const va = tableVa + (BigInt(e) << BigInt(level.shift));
        if (va > last || va + (1n << BigInt(level.shift)) - 1n < virtBase) continue;
        let pte: bigint;
        if (l === 0) {
          const pfn = toPfn(va);
          pte = (mfn(pfn) << 12n) | (isPtPfn(pfn) ? L1_PROT_RO : L1_PROT);
        } else {
          // The table of the next level down that maps `va`.
          const below = levels[l - 1] as Level;
          const belowSpan = BigInt(below.shift) + BigInt(Math.log2(below.entries));
          const belowFirst = (virtBase >> belowSpan) << belowSpan;
          const idx = Number((va - belowFirst) >> belowSpan);
          const childPfn = (tablePfns[k + 1] as number[])[idx];
          if (childPfn === undefined) continue;
          pte = (mfn(childPfn) << 12n) | (!is64 && l === 2 ? L3_PROT_PAE : LN_PROT);
        }
        writeUint(pageBytes, e * 8, pte, 8);
      }
    }
  }
  if (!is64) {
    // The extra L2 for PAE slot 3, when the mapping does not reach it.
    const l3 = pageOf((tablePfns[0] as number[])[0] as number);
    const l2s = tablePfns[1] as number[];
    const dv = new DataView(l3.buffer);
    if (dv.getBigUint64(3 * 8, true) === 0n)
      writeUint(l3, 3 * 8, (mfn(l2s[l2s.length - 1] as number) << 12n) | L3_PROT_PAE, 8);
  }

  // start_info (x86_32: 4-byte words; x86_64: 8-byte words, per xen.h).
  const si = pageOf(startInfo.pfn);
  si.set(new TextEncoder().encode(kernel.guestType), 0);
  const topPfn = (tablePfns[0] as number[])[0] as number;
  const fields32: [number, bigint][] = [
    [32, BigInt(input.nrPages)],
    [36, BigInt(input.sharedInfoMfn) << 12n],
    [40, BigInt(input.flags ?? 0)],
    [44, mfn(store.pfn)],
    [48, BigInt(input.storeEvtchn)],
    [52, mfn(console.pfn)],
    [56, BigInt(input.consoleEvtchn)],
    [60, toVa(topPfn)],
    [64, BigInt(nrTables)],
    [68, p2m.vstart],
    [72, ramdisk?.vstart ?? 0n],
    [76, BigInt(input.ramdisk?.length ?? 0)],
  ];
  const fields64: [number, bigint, 4 | 8][] = [
    [32, BigInt(input.nrPages), 8],
    [40, BigInt(input.sharedInfoMfn) << 12n, 8],
    [48, BigInt(input.flags ?? 0), 4],
    [56, mfn(store.pfn), 8],
    [64, BigInt(input.storeEvtchn), 4],
    [72, mfn(console.pfn), 8],
    [80, BigInt(input.consoleEvtchn), 4],
    [88, toVa(topPfn), 8],
    [96, BigInt(nrTables), 8],
    [104, p2m.vstart, 8],
    [112, ramdisk?.vstart ?? 0n, 8],
    [120, BigInt(input.ramdisk?.length ?? 0), 8],
  ];
  if (is64) for (const [off, v, n] of fields64) writeUint(si, off, v, n);
  else for (const [off, v] of fields32) writeUint(si, off, v, 4);
  si.set(new TextEncoder().encode(input.cmdline), is64 ? 128 : 80);

  const topMfn = input.pfnToMfn(topPfn);
  const stackTop = stack.vstart + page;
  const vcpu: PvBootRegisters = {
    rip: kernel.virtEntry,
    rsp: stackTop,
    rsi: startInfo.vstart,
    rflags: 0x200,
    cs: is64 ? 0xe033 : 0xe019,
    ss: is64 ? 0xe02b : 0xe021,
    ds: is64 ? 0 : 0xe021,
    // x86_32 "extended CR3": the MFN rotated so that MFNs above 4 GiB fit in 32 bits.
    cr3: is64 ? BigInt(topMfn) << 12n : BigInt(((topMfn << 12) | (topMfn >>> 20)) >>> 0),
    topLevelMfn: topMfn,
    kernelSs: is64 ? 0xe02b : 0xe021,
    kernelSp: stackTop,
  };
  const layout: { -readonly [K in keyof PvLayout]: PvLayout[K] } = {
    guestType: kernel.guestType,
    segments,
    virtPgtabEnd,
    pages: contents,
    pageTablePfns,
    levels: is64 ? 4 : 3,
    startInfoPfn: startInfo.pfn,
    storePfn: store.pfn,
    consolePfn: console.pfn,
    vcpu,
  };
  if (kernel.hypercallPage !== undefined) layout.hypercallPagePfn = toPfn(kernel.hypercallPage);
  return layout;
}
