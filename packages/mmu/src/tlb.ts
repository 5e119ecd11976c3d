/**
 * A per-vCPU software TLB over 4 KiB pages: one slot per page index of the low 32 address bits
 * (`Int32Array(1 << 20)`), tagged with the high 32 bits for long mode. Each slot holds the
 * machine frame and a permission byte with separate read/write/execute bits for supervisor and
 * user accesses, so a hit is two loads and a mask test. Flushes walk the list of filled slots
 * instead of clearing 4 MiB (jslinux `tlb_pages`; see `bench/mmu/translate.bench.ts`).
 * @module
 */

/**
 * Permission bits stored per TLB slot. A slot with permission 0 is empty. Write bits are only
 * granted once the leaf entry is dirty, so the first write to a clean page walks and sets D.
 */
export const TLB_PERM: {
  readonly READ: 1;
  readonly WRITE: 2;
  readonly EXEC: 4;
  readonly USER_READ: 8;
  readonly USER_WRITE: 16;
  readonly USER_EXEC: 32;
} = { READ: 1, WRITE: 2, EXEC: 4, USER_READ: 8, USER_WRITE: 16, USER_EXEC: 32 } as const;

const SLOTS = 1 << 20;
/** Beyond this many filled slots a flush clears the arrays wholesale instead of walking the list. */
const LIST_CAPACITY = 1 << 14;

/** The TLB arrays and their flush list. */
export class Tlb {
  /** High 32 bits of the linear address cached in each slot. */
  readonly tag: Int32Array;
  /** Machine frame cached in each slot. */
  readonly frame: Int32Array;
  /** {@link TLB_PERM} bits per slot (0 = empty). */
  readonly perm: Uint8Array;
  /** Per slot: bit 0 = global, bits 1.. = log2 page size of the mapping it came from. */
  readonly info: Uint8Array;
  private readonly list: Int32Array;
  private listLen: number;
  private overflow: number;
  /** Number of filled slots that came from pages larger than 4 KiB. */
  private large: number;

  /** Creates an empty TLB (about 10 MiB of typed arrays). */
  constructor() {
    this.tag = new Int32Array(SLOTS);
    this.frame = new Int32Array(SLOTS);
    this.perm = new Uint8Array(SLOTS);
    this.info = new Uint8Array(SLOTS);
    this.list = new Int32Array(LIST_CAPACITY);
    this.listLen = 0;
    this.overflow = 0;
    this.large = 0;
  }

  /** Number of slots currently filled (for tests and statistics). */
  get size(): number {
    if (this.overflow === 1) {
      let n = 0;
      for (let i = 0; i < SLOTS; i++) if (this.perm[i] !== 0) n++;
      return n;
    }
    let n = 0;
    for (let k = 0; k < this.listLen; k++) if (this.perm[this.list[k]] !== 0) n++;
    return n;
  }

  /** Looks up `hi:lo` for the permission bit `need`; returns the machine frame or -1. */
  lookup(lo: number, hi: number, need: number): number {
    const i = lo >>> 12;
    if ((this.perm[i] & need) !== 0 && this.tag[i] === hi) return this.frame[i];
    return -1;
  }

  /** Fills the slot for `hi:lo`. */
  fill(
    lo: number,
    hi: number,
    frame: number,
    perm: number,
    global: number,
    pageShift: number,
  ): void {
    const i = lo >>> 12;
    if (this.perm[i] === 0 && this.overflow === 0) {
      if (this.listLen < LIST_CAPACITY) this.list[this.listLen++] = i;
      else this.overflow = 1;
    }
    if (pageShift > 12) this.large++;
    this.tag[i] = hi;
    this.frame[i] = frame;
    this.perm[i] = perm;
    this.info[i] = global | (pageShift << 1);
  }

  /** Drops every slot, or every non-global slot when `includeGlobal` is false. */
  flush(includeGlobal: boolean): void {
    if (this.overflow === 1) {
      if (includeGlobal) this.perm.fill(0);
      else for (let i = 0; i < SLOTS; i++) if ((this.info[i] & 1) === 0) this.perm[i] = 0;
      this.rebuildList();
      return;
    }
    let keep = 0;
    for (let k = 0; k < this.listLen; k++) {
      const i = this.list[k];
      if (this.perm[i] === 0) continue;
      if (includeGlobal || (this.info[i] & 1) === 0) this.perm[i] = 0;
      else this.list[keep++] = i;
    }
    this.listLen = keep;
    if (keep === 0) this.large = 0;
  }

  private rebuildList(): void {
    this.overflow = 0;
    this.listLen = 0;
    for (let i = 0; i < SLOTS; i++) {
      if (this.perm[i] === 0) continue;
      if (this.listLen === LIST_CAPACITY) {
        this.overflow = 1;
        return;
      }
      this.list[this.listLen++] = i;
    }
  }

  /**
   * Drops the translation of the page containing `hi:lo` (INVLPG), global or not. Slots filled
   * from a large page containing the address are dropped too, as the SDM requires.
   */
  invlpg(lo: number, hi: number): void {
    const i = lo >>> 12;
    if (this.tag[i] === hi) this.perm[i] = 0;
    if (this.large === 0) return;
    if (this.overflow === 1) {
      for (let s = 0; s < SLOTS; s++) this.dropIfCovers(s, i, hi);
      return;
    }
    for (let k = 0; k < this.listLen; k++) this.dropIfCovers(this.list[k], i, hi);
  }

  private dropIfCovers(s: number, page: number, hi: number): void {
    if (this.perm[s] === 0 || this.tag[s] !== hi) return;
    const shift = this.info[s] >>> 1;
    if (shift <= 12) return;
    const span = shift - 12;
    if (s >>> span === page >>> span) this.perm[s] = 0;
  }
}
