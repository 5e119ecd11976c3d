/**
 * Shadow page tables: for a guest whose page tables hold guest-physical frames (HVM, or PV in
 * shadow mode), the hypervisor builds 4-level tables in machine memory that the CPU actually
 * walks. Shadows are filled on demand from shadow faults, guest page-table frames are never
 * mapped writable in the shadows (writes to them are emulated and resynchronise the shadows),
 * and shadows are kept per guest CR3, so switching back to an address space finds its shadows.
 *
 * Resynchronisation: every shadow leaf is recorded against the guest table frames its walk
 * used; a write to a guest table clears exactly the leaves recorded against it (intermediate
 * shadow tables carry no rights, so they stay). A newly discovered guest table, a change of
 * paging mode/WP/NXE, or too many records drop every shadow (Xen's "blow the tables" path).
 * Every kept shadow is therefore always in sync, so shadows of other address spaces are kept
 * across CR3 switches.
 * @see xen/arch/x86/mm/shadow/common.c, xen/arch/x86/mm/shadow/multi.c
 * @module
 */
import { DOMID } from '../abi.ts';
import { MmuError } from '../errors.ts';
import type { Machine } from '../machine.ts';
import { ACCESS, PAGING_MODE, RIGHTS } from '../paging.ts';
import { Translator } from '../translator.ts';
import type { PagingConfig } from '../walker.ts';
import { PageWalker } from '../walker.ts';

/** Outcomes of {@link ShadowPager.fault}. */
export const SHADOW_FAULT: {
  readonly FIXED: 0;
  readonly GUEST_FAULT: 1;
  readonly EMULATE_WRITE: 2;
  readonly P2M_MISS: 3;
} = { FIXED: 0, GUEST_FAULT: 1, EMULATE_WRITE: 2, P2M_MISS: 3 } as const;

/** Options for {@link ShadowPager}. */
export interface ShadowPagerOptions {
  /**
   * What the guest's page tables hold: `'physical'` (default) — guest frames translated through
   * the P2M (HVM); `'machine'` — machine frames, as a PV guest's validated tables (PV shadow
   * mode). In `'machine'` mode the PV type system guarantees that no guest table is mapped
   * writable, so writes never need emulation; every hypervisor write to a table must be
   * reported with {@link ShadowPager.emulatedWrite} (see `PvShadow`).
   */
  readonly guestTables?: 'physical' | 'machine';
}

/** Above this many leaf records the shadows are dropped wholesale. */
const MAX_DEPS = 1 << 16;
const P = 0x1;
const RW = 0x2;
const US = 0x4;
const A = 0x20;
const D = 0x40;

/** Shadow paging for one single-vCPU guest address space. */
export class ShadowPager {
  /** The machine. */
  readonly machine: Machine;
  /** The guest domain. */
  readonly domid: number;
  /** Walks the guest's own tables (through its P2M unless {@link machineTables}). */
  readonly guest: PageWalker;
  /** True when the guest's tables hold machine frames (PV shadow mode). */
  readonly machineTables: boolean;
  /** The translation port the CPU uses: a TLB in front of the shadow tables. */
  readonly translator: Translator;
  /** Machine frame of the shadow L4 for the current guest CR3. */
  rootMfn: number;
  /** Guest #PF error code after {@link SHADOW_FAULT}.GUEST_FAULT. */
  errorCode: number;
  /** Machine frame to write after {@link SHADOW_FAULT}.EMULATE_WRITE. */
  emulateMfn: number;
  /** Outcome of the last {@link translate} that returned -1. */
  status: number;
  /** Number of times every shadow was dropped (statistics). */
  resets: number;
  /** Number of shadow faults handled (statistics). */
  faults: number;
  /** Number of partial resynchronisations after guest table writes (statistics). */
  resyncs: number;
  private readonly ptFrame: Uint8Array;
  private readonly pool: number[];
  private used: number;
  /** Shadow root per guest CR3 frame. */
  private readonly roots: Map<number, number>;
  /**
   * Per guest table entry (table frame * 512 + 8-byte unit): the shadow leaves whose walk used
   * it, as triples (shadow L1 mfn * 512 + index, linear address low, high).
   */
  private readonly deps: Map<number, number[]>;
  private depCount: number;
  private rootKey: number;

  /**
   * Creates shadow paging for `domid` (whose P2M must be populated, unless its tables hold
   * machine frames: see {@link ShadowPagerOptions.guestTables}).
   */
  constructor(machine: Machine, domid: number, options: ShadowPagerOptions = {}) {
    this.machine = machine;
    this.domid = domid;
    this.machineTables = options.guestTables === 'machine';
    this.guest = new PageWalker(machine.memory, 40);
    this.guest.p2m = this.machineTables ? null : machine.p2m(domid);
    this.translator = new Translator(machine.memory, { physAddrBits: 40 });
    this.errorCode = 0;
    this.emulateMfn = -1;
    this.status = SHADOW_FAULT.FIXED;
    this.resets = 0;
    this.faults = 0;
    this.resyncs = 0;
    this.ptFrame = new Uint8Array(machine.frames.frames);
    this.pool = [];
    this.used = 0;
    this.roots = new Map();
    this.deps = new Map();
    this.depCount = 0;
    this.rootKey = 0;
    this.rootMfn = this.allocShadow();
    this.roots.set(0, this.rootMfn);
    this.translator.setPaging({
      mode: PAGING_MODE.LONG,
      cr3Lo: this.rootMfn * 4096,
      cr3Hi: 0,
      wp: true,
      pse: false,
      nxe: true,
      pge: false,
    });
  }

  private allocShadow(): number {
    if (this.used < this.pool.length) return this.pool[this.used++];
    const mfn = this.machine.frames.allocate(DOMID.DOMID_XEN);
    if (mfn < 0) throw new MmuError('OUT_OF_MEMORY', 'no free frame for a shadow table');
    this.machine.memory.clearFrame(mfn);
    this.pool.push(mfn);
    this.used++;
    return mfn;
  }

  /**
   * Loads the guest's paging state (MOV CR3/CR0/CR4/EFER). A CR3-only change switches to the
   * shadows kept for that address space (or a new empty root); any other change drops every
   * shadow.
   */
  setGuestPaging(config: PagingConfig): void {
    const g = this.guest;
    const onlyCr3 =
      g.mode === config.mode &&
      g.wp === (config.wp ? 1 : 0) &&
      g.pse === (config.pse ? 1 : 0) &&
      g.nxe === (config.nxe ? 1 : 0);
    g.configure(config);
    this.rootKey = (config.cr3Lo >>> 12) + (config.cr3Hi & 0xfffff) * 0x100000;
    if (!onlyCr3) {
      this.reset();
      return;
    }
    let root = this.roots.get(this.rootKey);
    if (root === undefined) {
      root = this.allocShadow();
      this.roots.set(this.rootKey, root);
    }
    this.useRoot(root);
  }

  private useRoot(root: number): void {
    this.rootMfn = root;
    this.translator.setCr3(root * 4096, 0);
  }

  /** Drops every shadow entry (of every address space) and flushes the TLB. */
  reset(): void {
    for (let i = 0; i < this.used; i++) this.machine.memory.clearFrame(this.pool[i]);
    this.used = 0;
    this.roots.clear();
    this.deps.clear();
    this.depCount = 0;
    const root = this.allocShadow();
    this.roots.set(this.rootKey, root);
    this.useRoot(root);
    this.translator.flush(true);
    this.resets++;
  }

  /** Whether machine frame `mfn` has been seen as a guest page-table frame. */
  isGuestTable(mfn: number): boolean {
    return this.ptFrame[mfn] === 1;
  }

  /**
   * Handles a miss of the shadow tables for `hi:lo` and `access`: walks the guest tables and
   * either installs a shadow entry (`FIXED`, retry), reports a guest #PF (`GUEST_FAULT`, see
   * {@link errorCode}), asks for the write to be emulated because it targets a guest page table
   * or a read-only page the guest may write with CR0.WP clear (`EMULATE_WRITE`, see
   * {@link emulateMfn}), or reports a P2M hole (`P2M_MISS`).
   */
  fault(lo: number, hi: number, access: number): number {
    this.faults++;
    const g = this.guest;
    if (!g.walk(lo, hi, access)) {
      if (g.p2mMiss === 1) return SHADOW_FAULT.P2M_MISS;
      this.errorCode = g.errorCode;
      return SHADOW_FAULT.GUEST_FAULT;
    }
    let fresh = false;
    // With machine-frame (PV) tables the type system keeps every table read-only in the
    // guest's own mappings, so tables need no tracking here.
    if (!this.machineTables) {
      for (let k = 0; k < g.levels; k++) {
        const t = g.tableFrame(k);
        if (this.ptFrame[t] === 0) {
          this.ptFrame[t] = 1;
          fresh = true;
        }
      }
      if (g.mode === PAGING_MODE.PAE) {
        const pdpt = this.pdptFrame();
        if (pdpt < this.ptFrame.length && this.ptFrame[pdpt] === 0) {
          this.ptFrame[pdpt] = 1;
          fresh = true;
        }
      }
    }
    // A frame just found to be a table may be mapped writable by existing shadows; and the
    // dependency records are bounded.
    if (fresh || this.depCount > MAX_DEPS) this.reset();
    const mfn = g.frame;
    const guestWritable = (g.rights & RIGHTS.WRITABLE) !== 0;
    const write = (access & ACCESS.WRITE) !== 0;
    if (write && (!guestWritable || this.ptFrame[mfn] === 1)) {
      this.emulateMfn = mfn;
      return SHADOW_FAULT.EMULATE_WRITE;
    }
    // Write permission only once the guest's dirty bit is set (i.e. on a write access), so
    // the guest's D bits stay exact.
    let flags = P | A;
    if ((g.rights & RIGHTS.USER) !== 0) flags |= US;
    if (write && guestWritable) flags |= RW | D;
    const slot = this.install(lo, hi, mfn, flags, (g.rights & RIGHTS.NO_EXEC) !== 0);
    // Record the leaf against every guest table entry the walk used.
    for (let k = 0; k < g.levels; k++)
      this.addDep(g.tableFrame(k) * 512 + g.tableEntry(k), slot, lo, hi);
    if (g.mode === PAGING_MODE.PAE) {
      const unit = ((g.cr3Lo & 0xfe0) >>> 3) + (lo >>> 30);
      this.addDep(this.pdptFrame() * 512 + unit, slot, lo, hi);
    }
    return SHADOW_FAULT.FIXED;
  }

  /** Machine frame of the guest's PAE PDPT (CR3). */
  private pdptFrame(): number {
    const f = this.guest.cr3Lo >>> 12;
    return this.machineTables ? f : this.machine.p2m(this.domid).get(f);
  }

  private addDep(entry: number, slot: number, lo: number, hi: number): void {
    let list = this.deps.get(entry);
    if (list === undefined) {
      list = [];
      this.deps.set(entry, list);
    }
    list.push(slot, lo, hi);
    this.depCount++;
  }

  /** Installs a shadow leaf; returns its position as shadow L1 mfn * 512 + index. */
  private install(lo: number, hi: number, mfn: number, flags: number, nx: boolean): number {
    const mem = this.machine.memory;
    let t = this.rootMfn;
    for (let level = 4; level > 1; level--) {
      let idx: number;
      if (level === 4) idx = (hi >>> 7) & 0x1ff;
      else if (level === 3) idx = ((hi & 0x7f) << 2) | (lo >>> 30);
      else idx = (lo >>> 21) & 0x1ff;
      const e = mem.read32(t, idx * 8);
      if ((e & P) === 0) {
        const n = this.allocShadow();
        mem.write32(t, idx * 8, (n << 12) | P | RW | US | A | 0);
        mem.write32(t, idx * 8 + 4, n >>> 20);
        t = n;
      } else {
        t = (e >>> 12) | ((mem.read32(t, idx * 8 + 4) & 0xfffff) << 20);
      }
    }
    const i1 = (lo >>> 12) & 0x1ff;
    mem.write32(t, i1 * 8, (mfn << 12) | flags | 0);
    mem.write32(t, i1 * 8 + 4, (mfn >>> 20) | (nx ? -0x80000000 : 0));
    this.translator.invlpg(lo, hi);
    return t * 512 + i1;
  }

  /**
   * After the hypervisor emulated a write to machine frame `mfn` (of `size` bytes at byte
   * `offset`, or the whole frame when `offset` is -1): the shadow leaves whose walk used a
   * written entry are dropped, and their translations flushed.
   */
  emulatedWrite(mfn: number, offset = -1, size = 8): void {
    if (!this.machineTables && this.ptFrame[mfn] !== 1) return;
    if (this.depCount === 0) return;
    let first = 0;
    let last = 511;
    if (offset >= 0) {
      first = offset >>> 3;
      last = Math.min(511, (offset + Math.max(1, size) - 1) >>> 3);
    }
    const base = mfn * 512;
    for (let u = first; u <= last; u++) {
      const list = this.deps.get(base + u);
      if (list === undefined) continue;
      this.deps.delete(base + u);
      this.dropLeaves(list);
    }
  }

  private dropLeaves(list: number[]): void {
    const mem = this.machine.memory;
    for (let k = 0; k < list.length; k += 3) {
      const at = list[k];
      const l1 = Math.floor(at / 512);
      const i = at - l1 * 512;
      mem.write32(l1, i * 8, 0);
      mem.write32(l1, i * 8 + 4, 0);
      this.translator.invlpg(list[k + 1], list[k + 2]);
    }
    this.depCount -= list.length / 3;
    this.resyncs++;
  }

  /** Guest INVLPG: shadows are kept in sync eagerly, so only the TLB needs flushing. */
  invlpg(lo: number, hi: number): void {
    this.translator.invlpg(lo, hi);
  }

  /**
   * Translates for the CPU: a TLB/shadow hit, or one shadow fault and retry. Returns the machine
   * frame, or -1 with {@link status} (and {@link errorCode} or {@link emulateMfn}) set.
   */
  translate(lo: number, hi: number, access: number): number {
    let f = this.translator.translate(lo, hi, access);
    if (f >= 0) return f;
    const r = this.fault(lo, hi, access);
    if (r !== SHADOW_FAULT.FIXED) {
      this.status = r;
      return -1;
    }
    f = this.translator.translate(lo, hi, access);
    if (f < 0) throw new MmuError('INVALID_STATE', 'shadow entry did not satisfy the access');
    return f;
  }

  /** Returns the shadow frames to the machine (the pager must not be used afterwards). */
  destroy(): void {
    for (const mfn of this.pool) this.machine.frames.free(DOMID.DOMID_XEN, mfn);
    this.pool.length = 0;
    this.used = 0;
  }
}
