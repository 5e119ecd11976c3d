import type { MachineMemory } from '../src/index.ts';

/** Writes a 64-bit entry (lo/hi halves) at index `idx` of table frame `mfn`. */
export function put64(mem: MachineMemory, mfn: number, idx: number, lo: number, hi = 0): void {
  mem.write32(mfn, idx * 8, lo);
  mem.write32(mfn, idx * 8 + 4, hi);
}

/** Reads the low half of the 64-bit entry at `idx` of frame `mfn`. */
export function get64lo(mem: MachineMemory, mfn: number, idx: number): number {
  return mem.read32(mfn, idx * 8);
}

/** Writes a 32-bit entry at index `idx` of table frame `mfn`. */
export function put32(mem: MachineMemory, mfn: number, idx: number, v: number): void {
  mem.write32(mfn, idx * 4, v);
}

/** A PTE low word pointing at `mfn` with `flags`. */
export function pte(mfn: number, flags: number): number {
  return (mfn << 12) | flags | 0;
}
