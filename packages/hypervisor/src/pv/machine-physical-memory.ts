/**
 * Machine memory as the CPU model's physical-memory port: a PV guest's page tables hold machine
 * addresses, so the CPU walks and accesses machine memory directly (no P2M in the path).
 */
import { fillCompatGdtPage } from './compat-gdt.ts';
import type { MachineBytesPort } from './ports.ts';
import { fillXenGdtPage64 } from './xen-gdt.ts';

/**
 * Xen's own read-only pages, served just past the machine's last frame (physical address
 * `frames * 4096 + page * 4096`): no guest page table can reach them (`PvMm` refuses frames
 * outside the machine), only the descriptor-table window of a PV vCPU maps them.
 */
export const XEN_PAGE = {
  /** Xen's zero page: GDT pages the guest has not given frames for. */ ZERO: 0,
  /** Xen's reserved GDT page for 64-bit guests (selectors 0xe000–0xefff). */ GDT64: 1,
  /** Xen's reserved compat GDT page for 32-bit guests. */ GDT32: 2,
} as const;

/**
 * What `@typevisor/mmu`'s `MachineMemory` offers beyond {@link MachineBytesPort}: its 2 MiB
 * chunks (allocated on first write, never moved) for {@link MachinePhysicalMemory.pageView}.
 */
interface ChunkedMachine {
  /** Byte views per chunk (a shared zero view for chunks never written). */
  readonly u8Chunks: readonly Uint8Array[];
  /** 1 for chunks with their own storage. */
  readonly allocated: Uint8Array;
  /** Allocates the storage of `mfn`'s chunk if needed (and reports the frame as written). */
  chunkForWrite(mfn: number): number;
}

/** Number of {@link XEN_PAGE} pages. */
const XEN_PAGES = 3;

/** Physical address of Xen page `page` ({@link XEN_PAGE}) in a machine of `frames` frames. */
export function xenPageAddress(frames: number, page: number): number {
  return (frames + page) * 4096;
}

/**
 * Adapts {@link MachineBytesPort} (machine addresses) to the CPU's `PhysicalMemory` port.
 * Xen's pages ({@link XEN_PAGE}) follow the machine, read as their content and ignore writes.
 * Addresses past them are not RAM (the CPU turns them into MMIO exits, which a PV vCPU treats as
 * a guest crash); stray reads there return all-ones and writes are dropped, so a hostile
 * page-table entry can never make the walker index outside the machine.
 */
export class MachinePhysicalMemory {
  /** The machine memory. */
  readonly machine: MachineBytesPort;
  private readonly limit: number;
  private readonly xen: Uint8Array;
  private readonly xenView: DataView;

  /** The machine's chunks when it is a chunked `MachineMemory`, else null. */
  private readonly chunked: ChunkedMachine | null;

  /** Wraps `machine`. */
  constructor(machine: MachineBytesPort) {
    this.machine = machine;
    const c = machine as MachineBytesPort & Partial<ChunkedMachine>;
    this.chunked =
      c.u8Chunks !== undefined && c.allocated !== undefined && c.chunkForWrite !== undefined
        ? (c as MachineBytesPort & ChunkedMachine)
        : null;
    this.limit = machine.frames * 4096;
    this.xen = new Uint8Array(XEN_PAGES * 4096);
    this.xenView = new DataView(this.xen.buffer);
    fillXenGdtPage64(this.xen.subarray(XEN_PAGE.GDT64 * 4096, (XEN_PAGE.GDT64 + 1) * 4096));
    fillCompatGdtPage(this.xen.subarray(XEN_PAGE.GDT32 * 4096, (XEN_PAGE.GDT32 + 1) * 4096));
  }

  /** True when `pa` lies inside the machine or in one of Xen's pages. */
  isRam(pa: number): boolean {
    return pa >= 0 && pa < this.limit + XEN_PAGES * 4096;
  }

  /** Reads a byte. */
  read8(pa: number): number {
    if (pa >= 0 && pa < this.limit) return this.machine.readMa8(pa);
    const x = pa - this.limit;
    return x >= 0 && x < this.xen.length ? (this.xen[x] ?? 0xff) : 0xff;
  }

  /** Reads 16 bits (never crosses a page). */
  read16(pa: number): number {
    if (pa >= 0 && pa + 2 <= this.limit) {
      return this.machine.readMa8(pa) | (this.machine.readMa8(pa + 1) << 8);
    }
    const x = pa - this.limit;
    return x >= 0 && x + 2 <= this.xen.length ? this.xenView.getUint16(x, true) : 0xffff;
  }

  /** Reads 32 bits as a signed int32 (never crosses a page). */
  read32(pa: number): number {
    if (pa >= 0 && pa + 4 <= this.limit) return this.machine.readMa32(pa);
    const x = pa - this.limit;
    return x >= 0 && x + 4 <= this.xen.length ? this.xenView.getInt32(x, true) : -1;
  }

  /** Writes a byte. */
  write8(pa: number, v: number): void {
    if (pa >= 0 && pa < this.limit) this.machine.writeMa8(pa, v & 0xff);
  }

  /** Writes 16 bits (never crosses a page). */
  write16(pa: number, v: number): void {
    if (pa < 0 || pa + 2 > this.limit) return;
    this.machine.writeMa8(pa, v & 0xff);
    this.machine.writeMa8(pa + 1, (v >>> 8) & 0xff);
  }

  /** Writes 32 bits (never crosses a page). */
  write32(pa: number, v: number): void {
    if (pa >= 0 && pa + 4 <= this.limit) this.machine.writeMa32(pa, v | 0);
  }

  /**
   * The 2 MiB chunk holding machine page `pa`, so the CPU's TLB loads and stores it directly
   * (the CPU's `PhysicalMemory.pageView`). For a store (`write`, asked on a write walk's TLB
   * fill) the chunk is allocated through `chunkForWrite`, which reports the frame as written
   * (log-dirty); for a load, a chunk never written has no view (it reads as zeros through
   * {@link MachinePhysicalMemory.read32}). Xen's pages and addresses past them have none either.
   */
  pageView(pa: number, write: boolean): Uint8Array | undefined {
    const m = this.chunked;
    if (m === null || pa < 0 || pa >= this.limit) return undefined;
    const mfn = Math.floor(pa / 4096);
    if (write) return m.u8Chunks[m.chunkForWrite(mfn)];
    const c = mfn >>> 9;
    return m.allocated[c] !== 0 ? m.u8Chunks[c] : undefined;
  }

  /**
   * Whether the page at `pa` holds exactly `words` (the CPU's decode cache checks its code
   * snapshots with it): one typed-array loop in the machine when it offers one.
   */
  pageEquals(pa: number, words: Int32Array): boolean {
    const m = this.machine;
    if (m.frameEquals !== undefined && pa >= 0 && pa < this.limit) {
      return m.frameEquals(pa / 4096, words);
    }
    for (let k = 0; k < 1024; k++) if (this.read32(pa + k * 4) !== words[k]) return false;
    return true;
  }

  /** Copies the page at `pa` into `out` (1024 int32). */
  readPage(pa: number, out: Int32Array): void {
    const m = this.machine;
    if (m.readFrameWords !== undefined && pa >= 0 && pa < this.limit) {
      m.readFrameWords(pa / 4096, out);
      return;
    }
    for (let k = 0; k < 1024; k++) out[k] = this.read32(pa + k * 4);
  }
}
