/**
 * Builds small ELF32/ELF64 x86 images in memory for loader tests: one PT_LOAD segment with
 * the given code, an optional PT_NOTE segment of Xen notes, and optional sections.
 */

export interface NoteSpec {
  type: number;
  /** A string (NUL added) or a number (4 bytes on ELF32, 8 on ELF64 unless `size` says). */
  value: string | bigint;
  size?: 4 | 8;
  /** Override the declared descsz (to build malformed notes). */
  declaredSize?: number;
  name?: string;
}

export interface ElfSpec {
  bits: 32 | 64;
  machine?: number;
  entry: bigint;
  vaddr: bigint;
  code: Uint8Array;
  memsz?: number;
  notes?: NoteSpec[];
  /** Put the notes in a SHT_NOTE section instead of a PT_NOTE segment. */
  notesAsSection?: boolean;
  /** A legacy `__xen_guest` section string. */
  xenGuest?: string;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

export function encodeNotes(notes: NoteSpec[], bits: 32 | 64): Uint8Array {
  const parts: number[] = [];
  const u32 = (v: number) =>
    parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  for (const n of notes) {
    const name = new TextEncoder().encode(`${n.name ?? 'Xen'}\0`);
    let desc: Uint8Array;
    if (typeof n.value === 'string') desc = new TextEncoder().encode(`${n.value}\0`);
    else {
      const size = n.size ?? (bits === 32 ? 4 : 8);
      desc = new Uint8Array(size);
      const dv = new DataView(desc.buffer);
      if (size === 4) dv.setUint32(0, Number(n.value), true);
      else dv.setBigUint64(0, n.value, true);
    }
    u32(name.length);
    u32(n.declaredSize ?? desc.length);
    u32(n.type);
    for (let i = 0; i < align4(name.length); i++) parts.push(name[i] ?? 0);
    for (let i = 0; i < align4(desc.length); i++) parts.push(desc[i] ?? 0);
  }
  return new Uint8Array(parts);
}

export function buildElf(spec: ElfSpec): Uint8Array {
  const { bits } = spec;
  const ehsize = bits === 32 ? 52 : 64;
  const phentsize = bits === 32 ? 32 : 56;
  const shentsize = bits === 32 ? 40 : 64;
  const notes = spec.notes ? encodeNotes(spec.notes, bits) : new Uint8Array(0);
  const noteSeg = spec.notes !== undefined && !spec.notesAsSection;
  const phnum = noteSeg ? 2 : 1;
  const codeOff = 0x1000;
  const notesOff = codeOff + spec.code.length;
  const xenGuest =
    spec.xenGuest === undefined
      ? new Uint8Array(0)
      : new TextEncoder().encode(`${spec.xenGuest}\0`);
  const xgOff = notesOff + notes.length;
  const strtab = new TextEncoder().encode('\0.shstrtab\0.note.Xen\0__xen_guest\0');
  const strOff = xgOff + xenGuest.length;
  const sections: { name: number; type: number; off: number; size: number }[] = [
    { name: 0, type: 0, off: 0, size: 0 },
    { name: 1, type: 3, off: strOff, size: strtab.length },
  ];
  if (spec.notes !== undefined && spec.notesAsSection)
    sections.push({ name: 11, type: 7, off: notesOff, size: notes.length });
  if (spec.xenGuest !== undefined)
    sections.push({ name: 21, type: 1, off: xgOff, size: xenGuest.length });
  const shoff = align4(strOff + strtab.length);
  const total = shoff + sections.length * shentsize;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, bits === 32 ? 1 : 2, 1, 1], 0);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, spec.machine ?? (bits === 32 ? 3 : 62), true);
  dv.setUint32(20, 1, true);
  const w = (off: number, v: bigint | number) =>
    bits === 32 ? dv.setUint32(off, Number(v), true) : dv.setBigUint64(off, BigInt(v), true);
  w(24, spec.entry);
  w(bits === 32 ? 28 : 32, ehsize); // e_phoff
  w(bits === 32 ? 32 : 40, shoff); // e_shoff
  dv.setUint16(bits === 32 ? 40 : 52, ehsize, true);
  dv.setUint16(bits === 32 ? 42 : 54, phentsize, true);
  dv.setUint16(bits === 32 ? 44 : 56, phnum, true);
  dv.setUint16(bits === 32 ? 46 : 58, shentsize, true);
  dv.setUint16(bits === 32 ? 48 : 60, sections.length, true);
  dv.setUint16(bits === 32 ? 50 : 62, 1, true);
  const ph = (
    i: number,
    type: number,
    off: number,
    vaddr: bigint,
    filesz: number,
    memsz: number,
  ) => {
    const o = ehsize + i * phentsize;
    dv.setUint32(o, type, true);
    if (bits === 32) {
      dv.setUint32(o + 4, off, true);
      dv.setUint32(o + 8, Number(vaddr), true);
      dv.setUint32(o + 12, Number(vaddr), true);
      dv.setUint32(o + 16, filesz, true);
      dv.setUint32(o + 20, memsz, true);
      dv.setUint32(o + 24, 7, true);
    } else {
      dv.setUint32(o + 4, 7, true);
      dv.setBigUint64(o + 8, BigInt(off), true);
      dv.setBigUint64(o + 16, vaddr, true);
      dv.setBigUint64(o + 24, vaddr, true);
      dv.setBigUint64(o + 32, BigInt(filesz), true);
      dv.setBigUint64(o + 40, BigInt(memsz), true);
    }
  };
  ph(0, 1, codeOff, spec.vaddr, spec.code.length, spec.memsz ?? spec.code.length);
  if (noteSeg) ph(1, 4, notesOff, 0n, notes.length, 0);
  out.set(spec.code, codeOff);
  out.set(notes, notesOff);
  out.set(xenGuest, xgOff);
  out.set(strtab, strOff);
  sections.forEach((s, i) => {
    const o = shoff + i * shentsize;
    dv.setUint32(o, s.name, true);
    dv.setUint32(o + 4, s.type, true);
    if (bits === 32) {
      dv.setUint32(o + 16, s.off, true);
      dv.setUint32(o + 20, s.size, true);
    } else {
      dv.setBigUint64(o + 24, BigInt(s.off), true);
      dv.setBigUint64(o + 32, BigInt(s.size), true);
    }
  });
  return out;
}
