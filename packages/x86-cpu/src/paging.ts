/**
 * The translation port and the built-in page walker: 2-level (with 4 MiB PSE pages), PAE
 * (with 2 MiB pages) and 4-level long-mode paging, with accessed/dirty updates, NX, WP and
 * the exact #PF error code. `@typevisor/mmu` can supply its own {@link PageWalker}.
 * @see Intel SDM Vol. 3A §4.3 (32-bit paging), §4.4 (PAE), §4.5 (4-level), §4.7 (#PF)
 */
import { CR0, CR4, EFER, PF_ERR } from './constants.ts';
import type { PhysicalMemory } from './ports.ts';

/** Access kinds for {@link WalkRequest.access}. */
export const ACCESS = {
  /** A data read. */ READ: 0,
  /** A data write. */ WRITE: 1,
  /** An instruction fetch. */ FETCH: 2,
} as const;

/** A translation request; the walker fills the result fields in place (no allocation). */
export interface WalkRequest {
  /** The linear address (a canonical signed number in long mode, else unsigned 32-bit). */
  linear: number;
  /** One of {@link ACCESS}. */
  access: number;
  /** True for an access made at CPL 3 (ring 1 is a supervisor ring for paging). */
  user: boolean;
  /** CR0 at the time of the access. */
  cr0: number;
  /** CR3 at the time of the access. */
  cr3: number;
  /** CR4 at the time of the access. */
  cr4: number;
  /** IA32_EFER at the time of the access. */
  efer: number;
  /** Result: the physical address of the 4 KiB frame holding `linear`. */
  frame: number;
  /** Result: true when user accesses are allowed by every level. */
  userOk: boolean;
  /** Result: true when writes are allowed by every level. */
  writable: boolean;
  /** Result: true when the page is execute-disabled. */
  noExec: boolean;
  /** Result: -1 on success, else the #PF error code. */
  fault: number;
}

/** Translates linear addresses to physical ones for the CPU (a port). */
export interface PageWalker {
  /** Walks the paging structures for `req`, sets A/D bits, and fills its result fields. */
  walk(req: WalkRequest): void;
}

/** Returns a fresh, zeroed {@link WalkRequest}. */
export function createWalkRequest(): WalkRequest {
  return {
    linear: 0,
    access: 0,
    user: false,
    cr0: 0,
    cr3: 0,
    cr4: 0,
    efer: 0,
    frame: 0,
    userOk: false,
    writable: false,
    noExec: false,
    fault: -1,
  };
}

const TWO32 = 4294967296;

/** The built-in walker over a {@link PhysicalMemory}. */
export class BuiltinPageWalker implements PageWalker {
  /** The physical memory holding the paging structures. */
  readonly memory: PhysicalMemory;
  /** The port's direct view as int32 words (empty without one): entries are read from it. */
  private readonly ram32: Int32Array;
  /** Bytes covered by `ram32`. */
  private readonly limit: number;

  /** Creates a walker reading paging structures from `memory`. */
  constructor(memory: PhysicalMemory) {
    this.memory = memory;
    const b = memory.bytes;
    this.ram32 =
      b !== undefined && b.byteOffset % 4 === 0
        ? new Int32Array(b.buffer, b.byteOffset, b.length >> 2)
        : new Int32Array(0);
    this.limit = this.ram32.length * 4;
  }

  /**
   * Reads the paging-structure dword at `addr` (4-byte aligned): from the direct view when the
   * port has one, else through the port (a 4-level walk made 8 `read32` calls).
   */
  private rd(addr: number): number {
    return addr + 4 <= this.limit ? this.ram32[addr >>> 2] : this.memory.read32(addr);
  }

  /** Writes the paging-structure dword at `addr` (accessed/dirty updates). */
  private wr(addr: number, v: number): void {
    if (addr + 4 <= this.limit) this.ram32[addr >>> 2] = v;
    else this.memory.write32(addr, v);
  }

  /** Walks the structures selected by CR0/CR4/EFER. @see Intel SDM Vol. 3A §4.1.1 */
  walk(req: WalkRequest): void {
    if ((req.cr4 & CR4.PAE) === 0) this.walk32(req);
    else if ((req.efer & EFER.LMA) !== 0) this.walkPae(req, 4);
    else this.walkPae(req, 3);
  }

  private finish(req: WalkRequest, us: boolean, rw: boolean, nx: boolean): boolean {
    const write = req.access === 1;
    const fetch = req.access === 2;
    let bad = false;
    if (req.user && !us) bad = true;
    else if (write && !rw && (req.user || (req.cr0 & CR0.WP) !== 0)) bad = true;
    else if (fetch && nx) bad = true;
    req.userOk = us;
    req.writable = rw;
    req.noExec = nx;
    if (bad) {
      req.fault = this.code(req, PF_ERR.P);
      return false;
    }
    return true;
  }

  private code(req: WalkRequest, base: number): number {
    let c = base;
    if (req.access === 1) c |= PF_ERR.W;
    if (req.user) c |= PF_ERR.U;
    const nxOn = (req.cr4 & CR4.PAE) !== 0 && (req.efer & EFER.NXE) !== 0;
    if (req.access === 2 && (nxOn || (req.cr4 & CR4.SMEP) !== 0)) {
      c |= PF_ERR.I;
    }
    return c;
  }

  private walk32(req: WalkRequest): void {
    const lin = req.linear >>> 0;
    const pdeAddr = ((req.cr3 & ~0xfff) >>> 0) + (lin >>> 22) * 4;
    const pde = this.rd(pdeAddr);
    if ((pde & 1) === 0) {
      req.fault = this.code(req, 0);
      return;
    }
    const write = req.access === 1;
    if ((pde & 0x80) !== 0 && (req.cr4 & CR4.PSE) !== 0) {
      if (!this.finish(req, (pde & 4) !== 0, (pde & 2) !== 0, false)) return;
      const upd = pde | 0x20 | (write ? 0x40 : 0);
      if (upd !== pde) this.wr(pdeAddr, upd);
      req.frame = ((pde & 0xffc00000) >>> 0) + (lin & 0x3ff000);
      req.fault = -1;
      return;
    }
    const pteAddr = ((pde & ~0xfff) >>> 0) + ((lin >>> 12) & 0x3ff) * 4;
    const pte = this.rd(pteAddr);
    if ((pte & 1) === 0) {
      req.fault = this.code(req, 0);
      return;
    }
    if (!this.finish(req, (pde & pte & 4) !== 0, (pde & pte & 2) !== 0, false)) return;
    if ((pde & 0x20) === 0) this.wr(pdeAddr, pde | 0x20);
    const upd = pte | 0x20 | (write ? 0x40 : 0);
    if (upd !== pte) this.wr(pteAddr, upd);
    req.frame = (pte & ~0xfff) >>> 0;
    req.fault = -1;
  }

  private walkPae(req: WalkRequest, levels: number): void {
    const nxe = (req.efer & EFER.NXE) !== 0;
    const lin = req.linear;
    const linLo = lin >>> 0;
    const linHi = Math.floor(lin / TWO32) & 0xffff;
    let table = levels === 4 ? req.cr3 - (req.cr3 % 4096) : req.cr3 - (req.cr3 % 32);
    let us = true;
    let rw = true;
    let nx = false;
    const write = req.access === 1;
    for (let level = levels; level >= 1; level--) {
      let index: number;
      if (level === 4) index = (linHi >>> 7) & 0x1ff;
      else if (level === 3)
        index = levels === 3 ? linLo >>> 30 : ((linHi & 0x7f) << 2) | (linLo >>> 30);
      else if (level === 2) index = (linLo >>> 21) & 0x1ff;
      else index = (linLo >>> 12) & 0x1ff;
      const addr = table + index * 8;
      const lo = this.rd(addr);
      const hi = this.rd(addr + 4);
      if ((lo & 1) === 0) {
        req.fault = this.code(req, 0);
        return;
      }
      if (hi < 0 && !nxe) {
        req.fault = this.code(req, PF_ERR.P | PF_ERR.RSVD);
        return;
      }
      const pdpteLegacy = levels === 3 && level === 3;
      if (!pdpteLegacy) {
        us = us && (lo & 4) !== 0;
        rw = rw && (lo & 2) !== 0;
      }
      if (hi < 0 && nxe) nx = true;
      const base = (hi & 0xfffff) * TWO32 + ((lo & ~0xfff) >>> 0);
      const large = !pdpteLegacy && (level === 2 || level === 3) && (lo & 0x80) !== 0;
      if (level === 1 || large) {
        if (!this.finish(req, us, rw, nx)) return;
        const upd = lo | 0x20 | (write ? 0x40 : 0);
        if (upd !== lo) this.wr(addr, upd);
        if (level === 1) req.frame = base;
        else if (level === 2) req.frame = base - (base % 0x200000) + (linLo & 0x1ff000);
        else req.frame = base - (base % 0x40000000) + (linLo & 0x3ffff000);
        req.fault = -1;
        return;
      }
      if (!pdpteLegacy && (lo & 0x20) === 0) this.wr(addr, lo | 0x20);
      table = base;
    }
  }
}
