/**
 * `typevisor bare`: runs a kernel directly on the `@typevisor/x86-cpu` model with RAM and two
 * QEMU-compatible devices — a 16550 UART at 0x3F8 (transmit goes to stdout) and
 * `isa-debug-exit` at 0xF4 (writing v exits with status (v << 1) | 1) — for people and tests.
 * Inputs: a multiboot v1 ELF32 kernel, a BIOS-style ROM, or a boot sector.
 * @see https://www.gnu.org/software/grub/manual/multiboot/multiboot.html (Multiboot 0.6.96)
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT, FlatRam, type PhysicalMemory, traceLine, X86Cpu } from '@typevisor/x86-cpu';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor bare (--multiboot FILE | --rom FILE | --boot-sector FILE) [options]

Run a kernel directly on the x86 CPU model, without Xen, with a 16550 UART at 0x3F8
(output to stdout) and isa-debug-exit at 0xF4 (writing v exits with status (v<<1)|1).

Inputs (exactly one):
  --multiboot FILE      a multiboot v1 kernel (ELF32, or a flat image with load addresses
                        in its header), entered in 32-bit protected mode
  --rom FILE            a BIOS-style ROM mapped below 1 MiB and at the top of 4 GiB;
                        execution starts at the reset vector F000:FFF0
  --boot-sector FILE    a 512-byte boot sector loaded at 0x7C00 and run in real mode

Options:
  --memory MIB          guest RAM in MiB (default 64)
  --max-instructions N  stop with status 1 after N instructions (default: no limit)
  --trace               print every instruction (address and disassembly) to stderr
  --stats               print instructions, wall time and MIPS to stderr at the end
`;

const MULTIBOOT_MAGIC = 0x1badb002;
const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;

/** RAM from 0, plus an optional ROM aliased at the top of 4 GiB (reads only). */
class BareMemory implements PhysicalMemory {
  readonly ram: FlatRam;
  readonly bytes: Uint8Array;
  private readonly rom: Uint8Array;
  private readonly romBase: number;

  constructor(ram: FlatRam, rom: Uint8Array) {
    this.ram = ram;
    this.bytes = ram.bytes;
    this.rom = rom;
    this.romBase = 2 ** 32 - rom.length;
  }

  isRam(pa: number): boolean {
    return this.ram.isRam(pa) || (this.rom.length > 0 && pa >= this.romBase && pa < 2 ** 32);
  }

  private romByte(pa: number): number {
    return this.rom[pa - this.romBase] ?? 0xff;
  }

  read8(pa: number): number {
    return pa >= this.romBase && this.rom.length > 0 ? this.romByte(pa) : this.ram.read8(pa);
  }

  read16(pa: number): number {
    return this.read8(pa) | (this.read8(pa + 1) << 8);
  }

  read32(pa: number): number {
    if (pa < this.bytes.length - 3) return this.ram.read32(pa);
    return this.read16(pa) | (this.read16(pa + 2) << 16);
  }

  write8(pa: number, v: number): void {
    this.ram.write8(pa, v);
  }

  write16(pa: number, v: number): void {
    this.ram.write16(pa, v);
  }

  write32(pa: number, v: number): void {
    this.ram.write32(pa, v);
  }
}

function fail(message: string): never {
  throw new ToolstackError('CONFIG', message);
}

/** Multiboot header flag: the header's address fields say where to load the image (a.out kludge). */
const MULTIBOOT_AOUT_KLUDGE = 1 << 16;

/**
 * Loads a multiboot v1 kernel — an ELF32 image, or any image whose header sets the a.out
 * kludge flag (bit 16) and gives its load addresses — and returns the entry point.
 */
function loadMultiboot(image: Uint8Array, ram: FlatRam, name: string): number {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  let header = -1;
  for (let off = 0; off + 12 <= Math.min(image.length, 8192); off += 4) {
    if (dv.getUint32(off, true) === MULTIBOOT_MAGIC) {
      const flags = dv.getUint32(off + 4, true);
      if (((MULTIBOOT_MAGIC + flags + dv.getUint32(off + 8, true)) & 0xffffffff) >>> 0 === 0) {
        header = off;
        break;
      }
    }
  }
  const isElf = image.length >= 4 && dv.getUint32(0, false) === 0x7f454c46;
  if (header < 0) {
    fail(
      `${name}: no multiboot header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB`,
    );
  }
  if ((dv.getUint32(header + 4, true) & MULTIBOOT_AOUT_KLUDGE) !== 0) {
    if (header + 32 > image.length) fail(`${name}: multiboot header is truncated`);
    const headerAddr = dv.getUint32(header + 12, true);
    const loadAddr = dv.getUint32(header + 16, true);
    const loadEndAddr = dv.getUint32(header + 20, true);
    const bssEndAddr = dv.getUint32(header + 24, true);
    const entry = dv.getUint32(header + 28, true);
    const fileStart = header - (headerAddr - loadAddr);
    if (loadAddr > headerAddr || fileStart < 0)
      fail(`${name}: multiboot load_addr is above header_addr`);
    const size = loadEndAddr === 0 ? image.length - fileStart : loadEndAddr - loadAddr;
    const end = Math.max(loadAddr + size, bssEndAddr);
    if (size < 0 || fileStart + size > image.length)
      fail(`${name}: multiboot load range extends past the end of the file`);
    if (end > ram.bytes.length)
      fail(
        `${name}: image at 0x${loadAddr.toString(16)} (+0x${(end - loadAddr).toString(16)}) does not fit in guest RAM`,
      );
    if (entry < loadAddr || entry >= end)
      fail(`${name}: multiboot entry_addr is outside the loaded image`);
    ram.bytes.fill(0, loadAddr, end);
    ram.bytes.set(image.subarray(fileStart, fileStart + size), loadAddr);
    return entry;
  }
  if (!isElf || image.length < 52)
    fail(`${name}: not an ELF file (and the multiboot header has no load addresses)`);
  if (image[4] !== 1 || image[5] !== 1)
    fail(`${name}: not a little-endian ELF32 file (multiboot kernels are ELF32)`);
  if (dv.getUint16(18, true) !== 3) fail(`${name}: ELF machine is not i386 (EM_386)`);
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  if (phnum === 0 || phentsize < 32 || phoff + phnum * phentsize > image.length) {
    fail(`${name}: program headers are missing or truncated`);
  }
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (dv.getUint32(ph, true) !== 1) continue; // PT_LOAD
    const offset = dv.getUint32(ph + 4, true);
    const paddr = dv.getUint32(ph + 12, true);
    const filesz = dv.getUint32(ph + 16, true);
    const memsz = dv.getUint32(ph + 20, true);
    if (offset + filesz > image.length)
      fail(`${name}: segment ${i} extends past the end of the file`);
    if (paddr + memsz > ram.bytes.length) {
      fail(
        `${name}: segment ${i} at 0x${paddr.toString(16)} (+0x${memsz.toString(16)}) does not fit in guest RAM`,
      );
    }
    ram.bytes.fill(0, paddr, paddr + memsz);
    ram.bytes.set(image.subarray(offset, offset + filesz), paddr);
  }
  return dv.getUint32(24, true);
}

/** Writes the multiboot information structure and memory map at 0x9000; returns its address. */
function writeMultibootInfo(ram: FlatRam): number {
  const info = 0x9000;
  const mmap = info + 0x100;
  const size = ram.bytes.length;
  ram.bytes.fill(0, info, info + 0x200);
  ram.write32(info, 0x1 | 0x40); // mem_lower/upper and mmap present
  ram.write32(info + 4, 639);
  ram.write32(info + 8, Math.floor((size - 0x100000) / 1024));
  const entries: [number, number][] = [
    [0, 0x9fc00],
    [0x100000, size - 0x100000],
  ];
  entries.forEach(([base, len], i) => {
    const e = mmap + i * 24;
    ram.write32(e, 20);
    ram.write32(e + 4, base);
    ram.write32(e + 8, 0);
    ram.write32(e + 12, len);
    ram.write32(e + 16, 0);
    ram.write32(e + 20, 1);
  });
  ram.write32(info + 44, entries.length * 24);
  ram.write32(info + 48, mmap);
  return info;
}

function flatSegment(cpu: X86Cpu, seg: number, sel: number, attr: number): void {
  cpu.segSel[seg] = sel;
  cpu.segBase[seg] = 0;
  cpu.segLimit[seg] = -1;
  cpu.segAttr[seg] = attr;
}

/** The `bare` verb. */
export const bare: CommandSpec = {
  name: 'bare',
  summary: 'Run a multiboot kernel, ROM or boot sector directly on the CPU model',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values } = parseArgs({
      args: [...args],
      options: {
        multiboot: { type: 'string' },
        rom: { type: 'string' },
        'boot-sector': { type: 'string' },
        memory: { type: 'string' },
        'max-instructions': { type: 'string' },
        trace: { type: 'boolean' },
        stats: { type: 'boolean' },
      },
      strict: true,
    });
    const inputs = [values.multiboot, values.rom, values['boot-sector']].filter(
      (v) => v !== undefined,
    );
    if (inputs.length !== 1)
      throw new ToolstackError('USAGE', 'give exactly one of --multiboot, --rom, --boot-sector');
    const mib = values.memory === undefined ? 64 : Number(values.memory);
    if (!Number.isInteger(mib) || mib < 2 || mib > 3072)
      throw new ToolstackError('USAGE', '--memory must be 2..3072 MiB');
    const max =
      values['max-instructions'] === undefined
        ? Number.POSITIVE_INFINITY
        : Number(values['max-instructions']);
    if (!(max > 0) || (Number.isFinite(max) && !Number.isInteger(max))) {
      throw new ToolstackError('USAGE', '--max-instructions must be a positive integer');
    }
    const file = inputs[0] as string;
    let image: Uint8Array;
    try {
      image = new Uint8Array(await readFile(resolve(io.cwd, file)));
    } catch (e) {
      throw new ToolstackError('NOT_FOUND', `cannot read ${file}: ${(e as Error).message}`);
    }
    const ram = new FlatRam(mib << 20);
    let rom: Uint8Array = new Uint8Array(0);
    if (values.rom !== undefined) {
      if (image.length === 0 || image.length > 1 << 20 || image.length % 2048 !== 0) {
        fail(`${file}: a ROM must be 2 KiB..1 MiB in 2 KiB multiples (got ${image.length} bytes)`);
      }
      rom = image;
      const low = image.subarray(Math.max(0, image.length - 0x20000));
      ram.load(0x100000 - low.length, low);
    }
    const memory = new BareMemory(ram, rom);
    const cpu = X86Cpu.create({ memory });
    if (values.multiboot !== undefined) {
      const entry = loadMultiboot(image, ram, file);
      cpu.cr0 |= 1;
      for (const s of [0, 2, 3, 4, 5]) flatSegment(cpu, s, 0x10, 0xc093);
      flatSegment(cpu, 1, 0x08, 0xc09b);
      cpu.updateMode();
      cpu.rip = entry;
      cpu.setReg(32, 0, MULTIBOOT_BOOTLOADER_MAGIC | 0, 0);
      cpu.setReg(32, 3, writeMultibootInfo(ram), 0);
    } else if (values['boot-sector'] !== undefined) {
      if (image.length !== 512)
        fail(`${file}: a boot sector must be exactly 512 bytes (got ${image.length})`);
      if (image[510] !== 0x55 || image[511] !== 0xaa)
        fail(`${file}: boot sector signature 55 AA is missing`);
      ram.load(0x7c00, image);
      for (const s of [0, 1, 2, 3, 4, 5]) cpu.loadSegReal(s, 0);
      cpu.rip = 0x7c00;
      cpu.lo[4] = 0x7c00;
      cpu.lo[2] = 0x80;
    }
    let lcr = 0;
    let executed = 0;
    let status = -1;
    const start = performance.now();
    const traceBytes = new Uint8Array(16);
    while (status < 0) {
      const left = max - executed;
      if (left <= 0) {
        io.stderr(`typevisor bare: stopped after ${executed} instructions (--max-instructions)\n`);
        status = 1;
        break;
      }
      const before = cpu.instructions;
      let reason: number;
      if (values.trace === true) {
        const lin = ((cpu.segBase[1] ?? 0) + cpu.rip) % 2 ** 32;
        for (let i = 0; i < 16; i++)
          traceBytes[i] = memory.read8((cpu.cr0 & 0x80000000) === 0 ? lin + i : 0);
        io.stderr(
          `${traceLine(traceBytes, 0, cpu.mode64 ? 64 : cpu.defSize === 32 ? 32 : 16, cpu.rip)}\n`,
        );
        reason = cpu.run(1);
      } else reason = cpu.run(Math.min(left, 1_000_000));
      executed += cpu.instructions - before;
      switch (reason) {
        case EXIT.BUDGET:
          break;
        case EXIT.IO_OUT: {
          const { port, value } = cpu.exit;
          if (port === 0x3f8 && (lcr & 0x80) === 0) io.stdout(String.fromCharCode(value & 0xff));
          else if (port === 0x3fb) lcr = value & 0xff;
          else if (port === 0xf4) status = ((value << 1) | 1) & 0xff;
          break;
        }
        case EXIT.IO_IN: {
          const { port, size } = cpu.exit;
          let v = size === 1 ? 0xff : size === 2 ? 0xffff : -1;
          if (port === 0x3fd) v = 0x60;
          else if (port >= 0x3f8 && port <= 0x3ff) v = port === 0x3fb ? lcr : 0;
          cpu.completeIoIn(v);
          break;
        }
        case EXIT.MMIO_READ:
          cpu.completeMmioRead(-1);
          break;
        case EXIT.MMIO_WRITE:
          break;
        case EXIT.HLT:
          if ((cpu.getRflags() & 0x200) === 0) {
            io.stderr('typevisor bare: guest halted with interrupts disabled\n');
            status = 0;
          } else {
            io.stderr(
              'typevisor bare: guest halted waiting for an interrupt; no devices raise any\n',
            );
            status = 0;
          }
          break;
        case EXIT.TRIPLE_FAULT:
          io.stderr(
            `typevisor bare: triple fault at ${(cpu.segSel[1] ?? 0).toString(16)}:${cpu.rip.toString(16)}\n`,
          );
          status = 1;
          break;
        default:
          io.stderr(`typevisor bare: unexpected exit ${reason}\n`);
          status = 1;
      }
    }
    if (values.stats === true) {
      const ms = performance.now() - start;
      io.stderr(
        `instructions: ${executed}\nwall time: ${ms.toFixed(1)} ms\nMIPS: ${(executed / 1000 / Math.max(ms, 0.001)).toFixed(2)}\n`,
      );
    }
    return status;
  },
};
