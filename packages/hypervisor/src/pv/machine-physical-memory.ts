/**
 * Machine memory as the CPU model's physical-memory port: a PV guest's page tables hold machine
 * addresses, so the CPU walks and accesses machine memory directly (no P2M in the path).
 */
import type { MachineBytesPort } from './ports.ts';

/**
 * Adapts {@link MachineBytesPort} (machine addresses) to the CPU's `PhysicalMemory` port.
 * Addresses outside the machine are not RAM (the CPU turns them into MMIO exits, which a PV vCPU
 * treats as a guest crash); stray reads there return all-ones and writes are dropped, so a
 * hostile page-table entry can never make the walker index outside the machine.
 */
export class MachinePhysicalMemory {
  /** The machine memory. */
  readonly machine: MachineBytesPort;
  private readonly limit: number;

  /** Wraps `machine`. */
  constructor(machine: MachineBytesPort) {
    this.machine = machine;
    this.limit = machine.frames * 4096;
  }

  /** True when `pa` lies inside the machine. */
  isRam(pa: number): boolean {
    return pa >= 0 && pa < this.limit;
  }

  /** Reads a byte. */
  read8(pa: number): number {
    return pa >= 0 && pa < this.limit ? this.machine.readMa8(pa) : 0xff;
  }

  /** Reads 16 bits (never crosses a page). */
  read16(pa: number): number {
    if (pa < 0 || pa + 2 > this.limit) return 0xffff;
    return this.machine.readMa8(pa) | (this.machine.readMa8(pa + 1) << 8);
  }

  /** Reads 32 bits as a signed int32 (never crosses a page). */
  read32(pa: number): number {
    return pa >= 0 && pa + 4 <= this.limit ? this.machine.readMa32(pa) : -1;
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
}
