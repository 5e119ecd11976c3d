/**
 * A plain RAM implementation of {@link PhysicalMemory}: one `ArrayBuffer` at guest physical
 * address 0, with everything above its size unbacked (MMIO exits). Embedders with holes, ROM
 * or MMIO windows below the top of RAM supply their own port.
 */
import { X86CpuError } from './errors.ts';
import type { PhysicalMemory } from './ports.ts';

/** Flat RAM from physical address 0 to `size`. */
export class FlatRam implements PhysicalMemory {
  /** The backing bytes. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  /** Physical pages (4 KiB) at or above this number are MMIO. */
  private readonly pages: number;
  /** Extra MMIO pages punched into RAM (page numbers). */
  private readonly holes: Set<number> = new Set();

  /** Creates `size` bytes of zeroed RAM (`size` a positive multiple of 4096). */
  constructor(size: number) {
    if (!Number.isInteger(size) || size <= 0 || size % 4096 !== 0 || size > 2 ** 32) {
      throw new X86CpuError(
        'INVALID_ARGUMENT',
        `RAM size ${size} must be a multiple of 4096 up to 4 GiB`,
      );
    }
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
    this.pages = size / 4096;
  }

  /** Marks the page holding `pa` as MMIO (accesses exit to the embedder). */
  addMmioPage(pa: number): void {
    this.holes.add(Math.floor(pa / 4096));
  }

  /** True when the page of `pa` is RAM. */
  isRam(pa: number): boolean {
    const page = Math.floor(pa / 4096);
    return page < this.pages && !this.holes.has(page);
  }

  /** Reads a byte (0 outside RAM). */
  read8(pa: number): number {
    return pa < this.bytes.length ? this.bytes[pa] : 0xff;
  }

  /** Reads 16 bits little-endian. */
  read16(pa: number): number {
    return pa + 1 < this.bytes.length ? this.view.getUint16(pa, true) : 0xffff;
  }

  /** Reads 32 bits little-endian as int32. */
  read32(pa: number): number {
    return pa + 3 < this.bytes.length ? this.view.getInt32(pa, true) : -1;
  }

  /** Writes a byte. */
  write8(pa: number, v: number): void {
    if (pa < this.bytes.length) this.bytes[pa] = v;
  }

  /** Writes 16 bits little-endian. */
  write16(pa: number, v: number): void {
    if (pa + 1 < this.bytes.length) this.view.setUint16(pa, v & 0xffff, true);
  }

  /** Writes 32 bits little-endian. */
  write32(pa: number, v: number): void {
    if (pa + 3 < this.bytes.length) this.view.setInt32(pa, v | 0, true);
  }

  /** Copies `data` into RAM at `pa`. */
  load(pa: number, data: Uint8Array): void {
    if (pa < 0 || pa + data.length > this.bytes.length) {
      throw new X86CpuError(
        'INVALID_ARGUMENT',
        `image of ${data.length} bytes at ${pa} does not fit in RAM`,
      );
    }
    this.bytes.set(data, pa);
  }
}
