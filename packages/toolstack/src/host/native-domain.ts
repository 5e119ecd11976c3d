/**
 * A native (TypeScript) domain other than dom0: a driver domain or a test frontend that owns real
 * machine frames and uses the hypervisor's grant tables and event channels like any guest, through
 * the split-driver ports (`GrantIssuer`, `PageAllocator`, `GrantMapper`, `EventChannels`).
 * @module
 */
import type { Machine } from '@typevisor/mmu';
import type { GrantIssuer, PageAllocator } from '@typevisor/split-drivers';
import { ToolstackError } from '../errors.ts';
import type { NativeEventChannels } from './native-events.ts';
import { framePage, type NativeGrantMapper } from './native-grants.ts';

/** GTF_permit_access, GTF_readonly, GTF_reading, GTF_writing. @see xen/include/public/grant_table.h */
const GTF_permit_access = 1;
const GTF_readonly = 1 << 2;
const GTF_reading = 1 << 3;
const GTF_writing = 1 << 4;
/** Grant references below this are reserved (console, xenstore), as Linux's GNTTAB_NR_RESERVED_ENTRIES. */
const FIRST_REF = 8;

/**
 * Writes v1 grant entries into the domain's own grant-table frames (what a guest's
 * `gnttab_grant_foreign_access` does), for pages handed out by a {@link NativePageAllocator}.
 */
export class NativeGrantIssuer implements GrantIssuer {
  private readonly machine: Machine;
  private readonly tableFrames: readonly number[];
  private readonly pages: NativePageAllocator;
  private readonly free: number[] = [];
  private next = FIRST_REF;

  /** Issues grants in the table held by `tableFrames` for pages of `pages`. */
  constructor(machine: Machine, tableFrames: readonly number[], pages: NativePageAllocator) {
    this.machine = machine;
    this.tableFrames = tableFrames;
    this.pages = pages;
  }

  /** Grants `remoteDomid` access to `page`; returns the grant reference. */
  grantAccess(remoteDomid: number, page: Uint8Array, readonly: boolean): number {
    const mfn = this.pages.frameOf(page);
    const ref = this.free.pop() ?? this.next++;
    if (ref >= this.tableFrames.length * 512) {
      throw new ToolstackError('STATE', 'the grant table is full');
    }
    const frame = this.tableFrames[ref >>> 9] as number;
    const off = (ref & 511) * 8;
    const mem = this.machine.memory;
    mem.write32(frame, off + 4, mfn); // frame first, then flags (the entry goes live last)
    mem.write32(
      frame,
      off,
      ((remoteDomid & 0xffff) << 16) | GTF_permit_access | (readonly ? GTF_readonly : 0),
    );
    return ref;
  }

  /** Revokes `ref`; false while the remote domain still has it mapped (GTF_reading/writing). */
  endAccess(ref: number): boolean {
    if (!(ref >= FIRST_REF && ref < this.next)) return true;
    const frame = this.tableFrames[ref >>> 9] as number;
    const off = (ref & 511) * 8;
    const mem = this.machine.memory;
    const flags = mem.read32(frame, off) & 0xffff;
    if (flags & (GTF_reading | GTF_writing)) return false;
    mem.write32(frame, off, 0);
    this.free.push(ref);
    return true;
  }
}

/** Hands out the native domain's own frames as shared page views. */
export class NativePageAllocator implements PageAllocator {
  private readonly machine: Machine;
  private readonly freeFrames: number[];
  private readonly frames: WeakMap<Uint8Array, number> = new WeakMap();

  /** Allocates from `frames` (machine frames the domain owns). */
  constructor(machine: Machine, frames: readonly number[]) {
    this.machine = machine;
    this.freeFrames = [...frames].reverse();
  }

  /** A zeroed page of the domain's memory. */
  allocPage(): Uint8Array {
    const mfn = this.freeFrames.pop();
    if (mfn === undefined) throw new ToolstackError('STATE', 'the native domain is out of pages');
    this.machine.memory.clearFrame(mfn);
    const page = framePage(this.machine.memory, mfn);
    this.frames.set(page, mfn);
    return page;
  }

  /** Returns a page to the pool. */
  freePage(page: Uint8Array): void {
    const mfn = this.frames.get(page);
    if (mfn === undefined) return;
    this.frames.delete(page);
    this.freeFrames.push(mfn);
  }

  /** The machine frame behind a page from {@link NativePageAllocator.allocPage}. */
  frameOf(page: Uint8Array): number {
    const mfn = this.frames.get(page);
    if (mfn === undefined) {
      throw new ToolstackError('USAGE', 'grantAccess: the page was not allocated from this domain');
    }
    return mfn;
  }

  /** Pages left. */
  get available(): number {
    return this.freeFrames.length;
  }
}

/** A native domain's ports (see {@link Host.createNativeDomain}). */
export interface NativeDomain {
  /** Domain ID. */
  readonly domid: number;
  /** Name. */
  readonly name: string;
  /** Its event channels. */
  readonly events: NativeEventChannels;
  /** Grant issuing (frontend side). */
  readonly grants: NativeGrantIssuer;
  /** Its pages, for rings and buffers. */
  readonly pages: NativePageAllocator;
  /** Grant mapping (backend side). */
  readonly mapper: NativeGrantMapper;
}
