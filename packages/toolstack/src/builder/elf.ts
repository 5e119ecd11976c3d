/**
 * A defensive ELF reader for guest kernels: ELF32 and ELF64, little-endian x86 only, with
 * every offset and size checked against the file before it is used. Addresses are `bigint`
 * (64-bit kernels live at 0xffffffff80000000, beyond 2^53); this is a cold path.
 *
 * @see System V ABI, "Object Files"; xen/include/xen/libelf.h
 */
import { ToolstackError } from '../errors.ts';

/** ELF machine numbers Typevisor can run. */
export const EM_386 = 3;
/** ELF machine number of x86-64. */
export const EM_X86_64 = 62;

/** Program header type of a loadable segment. */
export const PT_LOAD = 1;
/** Program header type of a note segment. */
export const PT_NOTE = 4;
/** Section header type of a note section. */
export const SHT_NOTE = 7;

/** One program header. */
export interface ElfSegment {
  /** `p_type`. */
  readonly type: number;
  /** `p_flags`. */
  readonly flags: number;
  /** `p_offset`: where the segment's bytes start in the file. */
  readonly offset: number;
  /** `p_vaddr`. */
  readonly vaddr: bigint;
  /** `p_paddr`. */
  readonly paddr: bigint;
  /** `p_filesz`: bytes present in the file. */
  readonly filesz: number;
  /** `p_memsz`: bytes in memory (the rest is zero-filled). */
  readonly memsz: number;
}

/** One section header (only what note lookup needs). */
export interface ElfSection {
  /** The section's name from the section string table ('' when unavailable). */
  readonly name: string;
  /** `sh_type`. */
  readonly type: number;
  /** `sh_offset`. */
  readonly offset: number;
  /** `sh_size`. */
  readonly size: number;
}

/** A parsed ELF image. */
export interface ElfImage {
  /** 32 or 64. */
  readonly bits: 32 | 64;
  /** `e_machine` (EM_386 or EM_X86_64). */
  readonly machine: number;
  /** `e_entry`. */
  readonly entry: bigint;
  /** Program headers. */
  readonly segments: readonly ElfSegment[];
  /** Section headers (empty when the image has none or they are unusable). */
  readonly sections: readonly ElfSection[];
  /** The file's bytes. */
  readonly bytes: Uint8Array;
}

const MACHINE_NAMES: Record<number, string> = {
  2: 'SPARC',
  3: 'x86 (i386)',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC64',
  40: 'ARM',
  62: 'x86-64',
  183: 'AArch64',
  243: 'RISC-V',
};

/** Names an ELF machine number for messages. */
export function machineName(machine: number): string {
  return MACHINE_NAMES[machine] ?? `machine ${machine}`;
}

function bad(what: string, msg: string): never {
  throw new ToolstackError('CONFIG', `${what}: ${msg}`);
}

/**
 * Parses an ELF kernel image. Throws a `CONFIG` {@link ToolstackError} that names `what`
 * (usually the file path) and the problem: not ELF, big-endian, not x86, truncated, or a
 * segment outside the file.
 */
export function parseElf(bytes: Uint8Array, what = 'kernel'): ElfImage {
  if (
    bytes.length < 16 ||
    bytes[0] !== 0x7f ||
    bytes[1] !== 0x45 ||
    bytes[2] !== 0x4c ||
    bytes[3] !== 0x46
  ) {
    bad(what, 'not an ELF file (bad magic)');
  }
  const cls = bytes[4];
  if (cls !== 1 && cls !== 2) bad(what, `unknown ELF class ${cls}`);
  if (bytes[5] !== 1) bad(what, 'big-endian ELF files are not x86 kernels');
  const bits = cls === 1 ? 32 : 64;
  const ehsize = bits === 32 ? 52 : 64;
  if (bytes.length < ehsize) bad(what, `truncated ELF header (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_386 && machine !== EM_X86_64) {
    bad(what, `wrong architecture: ELF for ${machineName(machine)}, expected x86 (i386) or x86-64`);
  }
  if ((bits === 32) !== (machine === EM_386)) {
    bad(what, `inconsistent ELF: ${bits}-bit class with ${machineName(machine)} machine`);
  }
  const word = (off: number): bigint =>
    bits === 32 ? BigInt(dv.getUint32(off, true)) : dv.getBigUint64(off, true);
  const size = (off: number, field: string): number => {
    const v = word(off);
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      bad(what, `${field} 0x${v.toString(16)} is out of range`);
    return Number(v);
  };
  const entry = word(24);
  const phoff = size(bits === 32 ? 28 : 32, 'e_phoff');
  const shoff = size(bits === 32 ? 32 : 40, 'e_shoff');
  const phentsize = dv.getUint16(bits === 32 ? 42 : 54, true);
  const phnum = dv.getUint16(bits === 32 ? 44 : 56, true);
  const shentsize = dv.getUint16(bits === 32 ? 46 : 58, true);
  const shnum = dv.getUint16(bits === 32 ? 48 : 60, true);
  const shstrndx = dv.getUint16(bits === 32 ? 50 : 62, true);

  if (phnum === 0) bad(what, 'no program headers (not an executable kernel)');
  const minPh = bits === 32 ? 32 : 56;
  if (phentsize < minPh) bad(what, `program header size ${phentsize} is too small`);
  if (phoff + phnum * phentsize > bytes.length)
    bad(what, 'program headers extend past the end of the file (truncated?)');

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    const seg: ElfSegment =
      bits === 32
        ? {
            type: dv.getUint32(o, true),
            offset: dv.getUint32(o + 4, true),
            vaddr: BigInt(dv.getUint32(o + 8, true)),
            paddr: BigInt(dv.getUint32(o + 12, true)),
            filesz: dv.getUint32(o + 16, true),
            memsz: dv.getUint32(o + 20, true),
            flags: dv.getUint32(o + 24, true),
          }
        : {
            type: dv.getUint32(o, true),
            flags: dv.getUint32(o + 4, true),
            offset: size(o + 8, `segment ${i} p_offset`),
            vaddr: dv.getBigUint64(o + 16, true),
            paddr: dv.getBigUint64(o + 24, true),
            filesz: size(o + 32, `segment ${i} p_filesz`),
            memsz: size(o + 40, `segment ${i} p_memsz`),
          };
    if (seg.type === PT_LOAD) {
      if (seg.offset + seg.filesz > bytes.length) {
        bad(
          what,
          `segment ${i} (offset 0x${seg.offset.toString(16)}, 0x${seg.filesz.toString(16)} bytes) extends past the end of the file (truncated?)`,
        );
      }
      if (seg.filesz > seg.memsz) bad(what, `segment ${i} has p_filesz larger than p_memsz`);
    }
    segments.push(seg);
  }

  // Section headers are optional for loading; unusable ones are ignored rather than fatal.
  const sections: ElfSection[] = [];
  const minSh = bits === 32 ? 40 : 64;
  if (shnum > 0 && shentsize >= minSh && shoff + shnum * shentsize <= bytes.length) {
    const raw: { nameOff: number; type: number; offset: number; size: number }[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * shentsize;
      raw.push({
        nameOff: dv.getUint32(o, true),
        type: dv.getUint32(o + 4, true),
        offset: bits === 32 ? dv.getUint32(o + 16, true) : Number(dv.getBigUint64(o + 24, true)),
        size: bits === 32 ? dv.getUint32(o + 20, true) : Number(dv.getBigUint64(o + 32, true)),
      });
    }
    const strtab = raw[shstrndx];
    for (const s of raw) {
      let name = '';
      if (
        strtab !== undefined &&
        strtab.offset + strtab.size <= bytes.length &&
        s.nameOff < strtab.size
      ) {
        const start = strtab.offset + s.nameOff;
        let end = start;
        while (end < strtab.offset + strtab.size && bytes[end] !== 0) end++;
        name = new TextDecoder().decode(bytes.subarray(start, end));
      }
      if (s.offset + s.size <= bytes.length)
        sections.push({ name, type: s.type, offset: s.offset, size: s.size });
    }
  }
  return { bits, machine, entry, segments, sections, bytes };
}
