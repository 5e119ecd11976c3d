/**
 * The page-table walker for 32-bit 2-level paging (with PSE and PSE-36), PAE paging and 4-level
 * long-mode paging: NX, WP, U/S, global pages, accessed/dirty updates and exact #PF error codes.
 *
 * Hot path: 64-bit linear addresses arrive as int32 halves, results land in preallocated fields,
 * nothing is allocated per walk (see `bench/mmu/translate.bench.ts`).
 * @see Intel SDM Vol. 3A §4.3–§4.7
 * @module
 */
import { MmuError } from './errors.ts';
import type { MachineMemory } from './machine-memory.ts';
import type { P2m } from './p2m.ts';
import { ACCESS, PAGING_MODE, type PagingMode, RIGHTS } from './paging.ts';

const P = 0x1;
const RW = 0x2;
const US = 0x4;
const A = 0x20;
const D = 0x40;
const PS = 0x80;
const G = 0x100;
const NX_HI = -0x80000000;

/** Paging control state the walker needs (from CR0, CR3, CR4 and EFER). */
export interface PagingConfig {
  /** Paging mode. */
  readonly mode: PagingMode;
  /** CR3 low 32 bits. */
  readonly cr3Lo: number;
  /** CR3 high 32 bits (long mode only). */
  readonly cr3Hi: number;
  /** CR0.WP: supervisor writes honour read-only pages. */
  readonly wp: boolean;
  /** CR4.PSE: 4 MiB pages in 2-level paging. */
  readonly pse: boolean;
  /** EFER.NXE: bit 63 is execute-disable (otherwise reserved). */
  readonly nxe: boolean;
}

/**
 * Walks page tables held in {@link MachineMemory}. Configure with {@link configure}, then call
 * {@link walk}; on success read {@link frame}, {@link pageShift}, {@link rights},
 * {@link global} and {@link dirty}; on a fault read {@link errorCode}.
 */
export class PageWalker {
  /** Machine memory holding the page tables (and the pages they map). */
  readonly memory: MachineMemory;
  /** MAXPHYADDR: physical-address width; higher address bits in entries are reserved. */
  readonly physAddrBits: number;
  /** Current paging mode. */
  mode: number;
  /** CR3 low word. */
  cr3Lo: number;
  /** CR3 high word. */
  cr3Hi: number;
  /** CR0.WP as 0/1. */
  wp: number;
  /** CR4.PSE as 0/1. */
  pse: number;
  /** EFER.NXE as 0/1. */
  nxe: number;
  /** Out: machine frame of the 4 KiB page containing the address. */
  frame: number;
  /** Out: log2 size of the mapping page (12, 21, 22 or 30). */
  pageShift: number;
  /** Out: effective {@link RIGHTS} bits. */
  rights: number;
  /** Out: 1 if the leaf entry has G set. */
  global: number;
  /** Out: 1 if the leaf entry's dirty bit is set after the walk. */
  dirty: number;
  /** Out: #PF error code of the last failed walk. */
  errorCode: number;
  /** Out: number of table entries read by the last walk. */
  levels: number;
  /**
   * Out: 1 when the last walk failed because a guest-physical frame (a table or the final
   * page) has no P2M entry: an EPT/NPT violation for the hypervisor, not a guest #PF.
   */
  p2mMiss: number;
  /**
   * Guest-physical translation for two-dimensional (HAP-style) walks: when set, CR3 and every
   * table and page address in the entries are guest frames translated through this P2M.
   */
  p2m: P2m | null;
  private rsvdHi: number;
  private readonly maxFrame: number;
  // Positions (chunk, int32 index) of the entries used, for accessed/dirty updates.
  private readonly posChunk: Int32Array;
  private readonly posIndex: Int32Array;

  /** Creates a walker over `memory` with the given MAXPHYADDR (32–40, default 36). */
  constructor(memory: MachineMemory, physAddrBits = 36) {
    if (!Number.isInteger(physAddrBits) || physAddrBits < 32 || physAddrBits > 40) {
      throw new MmuError('INVALID_ARGUMENT', `physAddrBits ${physAddrBits} not in 32..40`);
    }
    this.memory = memory;
    this.physAddrBits = physAddrBits;
    this.mode = 0;
    this.cr3Lo = 0;
    this.cr3Hi = 0;
    this.wp = 0;
    this.pse = 0;
    this.nxe = 0;
    this.frame = 0;
    this.pageShift = 12;
    this.rights = 0;
    this.global = 0;
    this.dirty = 0;
    this.errorCode = 0;
    this.levels = 0;
    this.p2mMiss = 0;
    this.p2m = null;
    this.rsvdHi = 0;
    this.maxFrame = memory.frames;
    this.posChunk = new Int32Array(4);
    this.posIndex = new Int32Array(4);
    this.updateReserved();
  }

  /** Loads paging control state. */
  configure(config: PagingConfig): void {
    this.mode = config.mode;
    this.cr3Lo = config.cr3Lo | 0;
    this.cr3Hi = config.cr3Hi | 0;
    this.wp = config.wp ? 1 : 0;
    this.pse = config.pse ? 1 : 0;
    this.nxe = config.nxe ? 1 : 0;
    this.updateReserved();
  }

  private updateReserved(): void {
    // Address bits MAXPHYADDR..51 live in high-word bits (MAXPHYADDR-32)..19.
    const addrMask = ((1 << 20) - 1) & ~((1 << (this.physAddrBits - 32)) - 1);
    this.rsvdHi = addrMask | (this.nxe === 1 ? 0 : NX_HI);
  }

  /**
   * Translates the linear address `hi:lo` for `access` (an {@link ACCESS} combination).
   * Returns true and fills the out-fields, or false with {@link errorCode} set. Accessed bits
   * (and dirty on writes) are set only when the translation succeeds.
   */
  walk(lo: number, hi: number, access: number): boolean {
    this.p2mMiss = 0;
    switch (this.mode) {
      case PAGING_MODE.LONG:
        return this.walkLong(lo, hi, access);
      case PAGING_MODE.PAE:
        return this.walkPae(lo, access);
      case PAGING_MODE.TWO_LEVEL:
        return this.walk2(lo, access);
      default:
        this.frame = lo >>> 12;
        this.pageShift = 12;
        this.rights = RIGHTS.WRITABLE | RIGHTS.USER;
        this.global = 0;
        this.dirty = 1;
        this.levels = 0;
        return true;
    }
  }

  /** Machine frame of the `k`-th table entry used by the last walk (`k < levels`). */
  tableFrame(k: number): number {
    return this.posChunk[k] * 512 + (this.posIndex[k] >>> 10);
  }

  /**
   * Position of the `k`-th table entry used by the last walk within its frame, in 8-byte units
   * (the entry index for PAE and 4-level tables; two 4-byte entries share a unit in 2-level
   * tables).
   */
  tableEntry(k: number): number {
    return (this.posIndex[k] & 1023) >>> 1;
  }

  /** Guest frame → machine frame through {@link p2m}, or -1 (all-ones entries are holes). */
  private gfn(t: number): number {
    const p = this.p2m as P2m;
    if (t < 0 || t >= p.size) return -1;
    const m = p.table[t];
    return m === 0xffffffff ? -1 : m;
  }

  private p2mFault(access: number): boolean {
    this.p2mMiss = 1;
    return this.fault(access, 0, 0);
  }

  private fault(access: number, present: number, rsvd: number): boolean {
    const fetch = access & ACCESS.FETCH;
    // I/D is reported only when NX is in force (PAE or 4-level with EFER.NXE); no SMEP here.
    const id = fetch !== 0 && this.nxe === 1 && this.mode >= PAGING_MODE.PAE ? 0x10 : 0;
    this.errorCode = present | (access & 6) | (rsvd !== 0 ? 8 : 0) | id;
    return false;
  }

  private walkLong(lo: number, hi: number, access: number): boolean {
    // Unrolled 4-level walk (bench/mmu/translate.bench.ts: the loop form with per-level index
    // selection measured slower).
    const mem = this.memory.i32Chunks;
    const rsvdHi = this.rsvdHi;
    const maxFrame = this.maxFrame;
    const pc = this.posChunk;
    const pi = this.posIndex;
    const hasP2m = this.p2m !== null;
    // PML4E
    let t = (this.cr3Lo >>> 12) | ((this.cr3Hi & 0xfffff) << 20);
    if (hasP2m) {
      t = this.gfn(t);
      if (t < 0) return this.p2mFault(access);
    }
    if (t >= maxFrame) return this.fault(access, 0, 0);
    let ch = mem[t >>> 9];
    let i = ((t & 511) << 10) | (((hi >>> 7) & 0x1ff) << 1);
    const e4 = ch[i];
    let eh = ch[i + 1];
    pc[0] = t >>> 9;
    pi[0] = i;
    if ((e4 & P) === 0) return this.fault(access, 0, 0);
    if ((eh & rsvdHi) !== 0 || (e4 & PS) !== 0) return this.fault(access, 1, 1);
    let nx = eh;
    // PDPTE
    t = (e4 >>> 12) | ((eh & 0xfffff) << 20);
    if (hasP2m) {
      t = this.gfn(t);
      if (t < 0) return this.p2mFault(access);
    }
    if (t >= maxFrame) return this.fault(access, 0, 0);
    ch = mem[t >>> 9];
    i = ((t & 511) << 10) | ((((hi & 0x7f) << 2) | (lo >>> 30)) << 1);
    const e3 = ch[i];
    eh = ch[i + 1];
    pc[1] = t >>> 9;
    pi[1] = i;
    if ((e3 & P) === 0) return this.fault(access, 0, 0);
    if ((eh & rsvdHi) !== 0) return this.fault(access, 1, 1);
    nx |= eh;
    t = (e3 >>> 12) | ((eh & 0xfffff) << 20);
    if ((e3 & PS) !== 0) {
      if ((e3 & 0x3fffe000) !== 0) return this.fault(access, 1, 1);
      const f = (t & ~0x3ffff) + ((lo >>> 12) & 0x3ffff);
      return this.finish(
        access,
        f,
        30,
        2,
        e4 & e3 & RW,
        e4 & e3 & US,
        this.nxe & (nx >>> 31),
        e3,
        e4 & e3,
      );
    }
    // PDE
    if (hasP2m) {
      t = this.gfn(t);
      if (t < 0) return this.p2mFault(access);
    }
    if (t >= maxFrame) return this.fault(access, 0, 0);
    ch = mem[t >>> 9];
    i = ((t & 511) << 10) | (((lo >>> 21) & 0x1ff) << 1);
    const e2 = ch[i];
    eh = ch[i + 1];
    pc[2] = t >>> 9;
    pi[2] = i;
    if ((e2 & P) === 0) return this.fault(access, 0, 0);
    if ((eh & rsvdHi) !== 0) return this.fault(access, 1, 1);
    nx |= eh;
    t = (e2 >>> 12) | ((eh & 0xfffff) << 20);
    const upper = e4 & e3 & e2;
    if ((e2 & PS) !== 0) {
      if ((e2 & 0x1fe000) !== 0) return this.fault(access, 1, 1);
      const f = (t & ~0x1ff) + ((lo >>> 12) & 0x1ff);
      return this.finish(
        access,
        f,
        21,
        3,
        upper & RW,
        upper & US,
        this.nxe & (nx >>> 31),
        e2,
        upper,
      );
    }
    // PTE
    if (hasP2m) {
      t = this.gfn(t);
      if (t < 0) return this.p2mFault(access);
    }
    if (t >= maxFrame) return this.fault(access, 0, 0);
    ch = mem[t >>> 9];
    i = ((t & 511) << 10) | (((lo >>> 12) & 0x1ff) << 1);
    const e1 = ch[i];
    eh = ch[i + 1];
    pc[3] = t >>> 9;
    pi[3] = i;
    if ((e1 & P) === 0) return this.fault(access, 0, 0);
    if ((eh & rsvdHi) !== 0) return this.fault(access, 1, 1);
    nx |= eh;
    const all = upper & e1;
    return this.finish(
      access,
      (e1 >>> 12) | ((eh & 0xfffff) << 20),
      12,
      4,
      all & RW,
      all & US,
      this.nxe & (nx >>> 31),
      e1,
      all,
    );
  }

  private walkPae(lo: number, access: number): boolean {
    const mem = this.memory.i32Chunks;
    const rsvdHi = this.rsvdHi;
    // PDPT: 32-byte aligned at CR3[31:5]; 4 entries.
    const pdptMa = (this.cr3Lo & ~0x1f) >>> 0;
    let pdptFrame = pdptMa >>> 12;
    const hasP2m = this.p2m !== null;
    if (hasP2m) {
      pdptFrame = this.gfn(pdptFrame);
      if (pdptFrame < 0) return this.p2mFault(access);
    }
    if (pdptFrame >= this.maxFrame) return this.fault(access, 0, 0);
    const pc = pdptFrame >>> 9;
    const pi = ((pdptFrame & 511) << 10) | (((pdptMa & 0xfff) >>> 2) + ((lo >>> 30) << 1));
    const plo = mem[pc][pi];
    const phi = mem[pc][pi + 1];
    if ((plo & P) === 0) return this.fault(access, 0, 0);
    // PDPTE: bits 1,2,5-8 and 63 reserved (Xen and hardware check these on CR3 load; see DESIGN.md).
    if ((plo & 0x1e6) !== 0 || (phi & (rsvdHi | NX_HI)) !== 0) return this.fault(access, 1, 1);
    let table = (plo >>> 12) | ((phi & 0xfffff) << 20);
    let rw = RW;
    let all = -1;
    let us = US;
    let nx = 0;
    let n = 0;
    let elo = 0;
    let shift = 12;
    for (let level = 2; level >= 1; level--) {
      const idx = level === 2 ? (lo >>> 21) & 0x1ff : (lo >>> 12) & 0x1ff;
      if (hasP2m) {
        table = this.gfn(table);
        if (table < 0) return this.p2mFault(access);
      }
      if (table >= this.maxFrame || table < 0) return this.fault(access, 0, 0);
      const c = table >>> 9;
      const i = ((table & 511) << 10) | (idx << 1);
      const chunk = mem[c];
      elo = chunk[i];
      const ehi = chunk[i + 1];
      this.posChunk[n] = c;
      this.posIndex[n] = i;
      n++;
      if ((elo & P) === 0) return this.fault(access, 0, 0);
      if ((ehi & rsvdHi) !== 0) return this.fault(access, 1, 1);
      rw &= elo;
      all &= elo;
      us &= elo;
      nx |= ehi;
      const frame = (elo >>> 12) | ((ehi & 0xfffff) << 20);
      if (level === 2 && (elo & PS) !== 0) {
        if ((elo & 0x1fe000) !== 0) return this.fault(access, 1, 1);
        table = (frame & ~0x1ff) + ((lo >>> 12) & 0x1ff);
        shift = 21;
        break;
      }
      table = frame;
    }
    return this.finish(access, table, shift, n, rw, us, this.nxe & (nx >>> 31), elo, all);
  }

  private walk2(lo: number, access: number): boolean {
    const mem = this.memory.i32Chunks;
    let dirFrame = this.cr3Lo >>> 12;
    const hasP2m = this.p2m !== null;
    if (hasP2m) {
      dirFrame = this.gfn(dirFrame);
      if (dirFrame < 0) return this.p2mFault(access);
    }
    if (dirFrame >= this.maxFrame) return this.fault(access, 0, 0);
    let c = dirFrame >>> 9;
    let i = ((dirFrame & 511) << 10) | (lo >>> 22);
    const pde = mem[c][i];
    this.posChunk[0] = c;
    this.posIndex[0] = i;
    if ((pde & P) === 0) return this.fault(access, 0, 0);
    if ((pde & PS) !== 0 && this.pse === 1) {
      // 4 MiB page; PSE-36 puts physical bits 32..39 in bits 13..20; bit 21 is reserved.
      const highBits = this.physAddrBits - 32;
      const rsvd = (1 << 21) | ((((1 << 8) - 1) & ~((1 << highBits) - 1)) << 13);
      if ((pde & rsvd) !== 0) return this.fault(access, 1, 1);
      const base = ((pde >>> 22) << 10) | (((pde >>> 13) & 0xff) << 20);
      return this.finish(
        access,
        base + ((lo >>> 12) & 0x3ff),
        22,
        1,
        pde & RW,
        pde & US,
        0,
        pde,
        pde,
      );
    }
    let ptFrame = pde >>> 12;
    if (hasP2m) {
      ptFrame = this.gfn(ptFrame);
      if (ptFrame < 0) return this.p2mFault(access);
    }
    if (ptFrame >= this.maxFrame) return this.fault(access, 0, 0);
    c = ptFrame >>> 9;
    i = ((ptFrame & 511) << 10) | ((lo >>> 12) & 0x3ff);
    const pte = mem[c][i];
    this.posChunk[1] = c;
    this.posIndex[1] = i;
    if ((pte & P) === 0) return this.fault(access, 0, 0);
    return this.finish(
      access,
      pte >>> 12,
      12,
      2,
      pde & pte & RW,
      pde & pte & US,
      0,
      pte,
      pde & pte,
    );
  }

  private finish(
    access: number,
    frame: number,
    shift: number,
    n: number,
    rw: number,
    us: number,
    nx: number,
    leaf: number,
    andOfEntries: number,
  ): boolean {
    this.levels = n;
    const user = access & ACCESS.USER;
    const write = access & ACCESS.WRITE;
    if (user !== 0 && us === 0) return this.fault(access, 1, 0);
    if (write !== 0 && rw === 0 && (user !== 0 || this.wp === 1)) return this.fault(access, 1, 0);
    if ((access & ACCESS.FETCH) !== 0 && nx !== 0) return this.fault(access, 1, 0);
    if (this.p2m !== null) {
      frame = this.gfn(frame);
      if (frame < 0) return this.p2mFault(access);
    }
    // Success: set accessed on every entry used (skipped when all already have it, the steady
    // state), dirty on the leaf for writes. `andOfEntries` is the AND of the entries used.
    const mem = this.memory.i32Chunks;
    if ((andOfEntries & A) === 0) {
      for (let k = 0; k < n; k++) {
        const ch = mem[this.posChunk[k]];
        const ix = this.posIndex[k];
        const e = ch[ix];
        if ((e & A) === 0) ch[ix] = e | A;
      }
    }
    let d = leaf & D;
    if (write !== 0 && d === 0) {
      const ch = mem[this.posChunk[n - 1]];
      ch[this.posIndex[n - 1]] |= D;
      d = D;
    }
    this.frame = frame;
    this.pageShift = shift;
    this.rights =
      (rw !== 0 ? RIGHTS.WRITABLE : 0) |
      (us !== 0 ? RIGHTS.USER : 0) |
      (nx !== 0 ? RIGHTS.NO_EXEC : 0);
    this.global = (leaf & G) !== 0 ? 1 : 0;
    this.dirty = d !== 0 ? 1 : 0;
    this.errorCode = 0;
    return true;
  }
}
