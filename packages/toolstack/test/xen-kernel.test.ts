import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseElf, readXenKernelInfo, ToolstackError, XEN_ELFNOTE } from '../src/index.ts';
import { buildElf, type NoteSpec } from './support/elf-writer.ts';

const GRUB_DIR = '/usr/lib/grub-xen';
const haveGrub = existsSync(`${GRUB_DIR}/grub-x86_64-xen.bin`);

function err(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ToolstackError);
    return (e as Error).message.replace(/^toolstack: /, '');
  }
  throw new Error('expected an error');
}

const XTF_NOTES: NoteSpec[] = [
  { type: XEN_ELFNOTE.GUEST_OS, value: 'XTF' },
  { type: XEN_ELFNOTE.GUEST_VERSION, value: '0' },
  { type: XEN_ELFNOTE.LOADER, value: 'generic' },
  { type: XEN_ELFNOTE.HYPERCALL_PAGE, value: 0x105000n },
  { type: XEN_ELFNOTE.XEN_VERSION, value: 'xen-3.0' },
  { type: XEN_ELFNOTE.FEATURES, value: '!writable_page_tables|pae_pgdir_above_4gb' },
  { type: XEN_ELFNOTE.PAE_MODE, value: 'yes' },
];
const code = new Uint8Array(0x8000).fill(0x90);

describe.skipIf(!haveGrub && !process.env.CI)("Debian's GRUB Xen images (grub-xen-host)", () => {
  it('reads the x86_64 image: GRUB notes, entry 0, no hypercall page', () => {
    const file = `${GRUB_DIR}/grub-x86_64-xen.bin`;
    const info = readXenKernelInfo(parseElf(readFileSync(file), file), file);
    expect(info).toMatchObject({
      guestType: 'xen-3.0-x86_64',
      source: 'notes',
      guestOs: 'GRUB',
      loader: 'generic',
      xenVersion: 'xen-3.0',
      paeMode: 'no',
      virtBase: 0n,
      virtEntry: 0n,
      virtKstart: 0n,
    });
    expect(info.hypercallPage).toBeUndefined();
    expect(info.virtKend).toBeGreaterThan(0x400000n);
    expect(info.warnings).toEqual([]);
  });

  it("reads the i386 image and tolerates its truncated PAE note (descsz 12, 'yes' present)", () => {
    const file = `${GRUB_DIR}/grub-i386-xen.bin`;
    const info = readXenKernelInfo(parseElf(readFileSync(file), file), file);
    expect(info).toMatchObject({
      guestType: 'xen-3.0-x86_32p',
      guestOs: 'GRUB',
      paeMode: 'yes',
      virtEntry: 0n,
    });
    expect(info.warnings).toEqual([
      'PT_NOTE: note 9 declares 12 bytes but only 4 are present; read up to the end',
    ]);
  });
});

describe('Xen ELF notes', () => {
  it('derives guest type, layout, entry and hypercall page from notes (XTF-style pv32pae)', () => {
    const elf = buildElf({
      bits: 32,
      entry: 0x100000n,
      vaddr: 0x100000n,
      code,
      memsz: 0x10000,
      notes: XTF_NOTES,
    });
    const info = readXenKernelInfo(parseElf(elf));
    expect(info).toMatchObject({
      guestType: 'xen-3.0-x86_32p',
      virtBase: 0n,
      virtKstart: 0x100000n,
      virtKend: 0x110000n,
      virtEntry: 0x100000n,
      hypercallPage: 0x105000n,
      features: ['pae_pgdir_above_4gb'],
      requiredFeatures: ['writable_page_tables'],
      guestVersion: '0',
    });
  });

  it('handles 64-bit kernels in the top of the address space', () => {
    const base = 0xffffffff80000000n;
    const notes: NoteSpec[] = [
      { type: XEN_ELFNOTE.GUEST_OS, value: 'linux' },
      { type: XEN_ELFNOTE.XEN_VERSION, value: 'xen-3.0' },
      { type: XEN_ELFNOTE.VIRT_BASE, value: base },
      { type: XEN_ELFNOTE.PADDR_OFFSET, value: base },
      { type: XEN_ELFNOTE.ENTRY, value: base + 0x1000n },
      { type: XEN_ELFNOTE.HYPERCALL_PAGE, value: base + 0x2000n },
    ];
    const elf = buildElf({ bits: 64, entry: 0n, vaddr: base, code, notes });
    const info = readXenKernelInfo(parseElf(elf));
    expect(info).toMatchObject({
      guestType: 'xen-3.0-x86_64',
      virtKstart: base,
      virtEntry: base + 0x1000n,
      loader: '',
    });
  });

  it('falls back to SHT_NOTE sections, then to the legacy __xen_guest string', () => {
    const asSection = buildElf({
      bits: 32,
      entry: 0x100000n,
      vaddr: 0x100000n,
      code,
      notes: XTF_NOTES,
      notesAsSection: true,
    });
    expect(readXenKernelInfo(parseElf(asSection)).guestOs).toBe('XTF');
    const legacy = buildElf({
      bits: 32,
      entry: 0xc0100000n,
      vaddr: 0xc0100000n,
      code,
      xenGuest:
        'GUEST_OS=linux,GUEST_VER=2.6,XEN_VER=xen-3.0,VIRT_BASE=0xC0000000,HYPERCALL_PAGE=0x102,LOADER=generic,PAE=yes[extended-cr3]',
    });
    const info = readXenKernelInfo(parseElf(legacy));
    expect(info).toMatchObject({
      source: '__xen_guest',
      virtBase: 0xc0000000n,
      paddrOffset: 0xc0000000n,
      paeMode: 'yes',
      hypercallPage: 0xc0102000n,
    });
  });

  it('refuses kernels the PV builder cannot boot, saying why', () => {
    const with32 = (notes: NoteSpec[], over: Partial<Parameters<typeof buildElf>[0]> = {}) =>
      parseElf(buildElf({ bits: 32, entry: 0x100000n, vaddr: 0x100000n, code, notes, ...over }));
    expect(
      err(() =>
        readXenKernelInfo(parseElf(buildElf({ bits: 64, entry: 0n, vaddr: 0n, code })), 'vmlinux'),
      ),
    ).toBe('vmlinux: not a Xen PV kernel: no Xen ELF notes and no __xen_guest section');
    const noPae = XTF_NOTES.filter((n) => n.type !== XEN_ELFNOTE.PAE_MODE);
    expect(err(() => readXenKernelInfo(with32(noPae)))).toMatch(
      /non-PAE 32-bit PV kernels are not supported/,
    );
    const badVer = XTF_NOTES.map((n) =>
      n.type === XEN_ELFNOTE.XEN_VERSION ? { ...n, value: 'xen-2.0' } : n,
    );
    expect(err(() => readXenKernelInfo(with32(badVer)))).toMatch(/XEN_VERSION note is "xen-2.0"/);
    const autoxlate = [
      ...XTF_NOTES.filter((n) => n.type !== XEN_ELFNOTE.FEATURES),
      { type: XEN_ELFNOTE.FEATURES, value: '!auto_translated_physmap' },
    ];
    expect(err(() => readXenKernelInfo(with32(autoxlate)))).toMatch(
      /PV autotranslate guests are not supported/,
    );
    expect(err(() => readXenKernelInfo(with32(XTF_NOTES, { entry: 0x200000n })))).toBe(
      'kernel: entry point 0x200000 is outside the kernel image (0x100000–0x108000)',
    );
    const badHc = XTF_NOTES.map((n) =>
      n.type === XEN_ELFNOTE.HYPERCALL_PAGE ? { ...n, value: 0x900000n } : n,
    );
    expect(err(() => readXenKernelInfo(with32(badHc)))).toMatch(
      /HYPERCALL_PAGE 0x900000 is outside the kernel image/,
    );
  });
});

describe('ELF parsing of bad input', () => {
  it('names the problem for non-ELF, wrong-architecture and truncated files', () => {
    expect(err(() => parseElf(new TextEncoder().encode('#!/bin/sh\necho hi\n'), 'x.sh'))).toBe(
      'x.sh: not an ELF file (bad magic)',
    );
    const arm = buildElf({ bits: 32, machine: 40, entry: 0n, vaddr: 0n, code });
    expect(err(() => parseElf(arm, 'zImage'))).toBe(
      'zImage: wrong architecture: ELF for ARM, expected x86 (i386) or x86-64',
    );
    const aarch64 = buildElf({ bits: 64, machine: 183, entry: 0n, vaddr: 0n, code });
    expect(err(() => parseElf(aarch64, 'Image'))).toMatch(/ELF for AArch64/);
    const good = buildElf({ bits: 64, entry: 0n, vaddr: 0n, code, notes: XTF_NOTES });
    expect(err(() => parseElf(good.subarray(0, 40), 'k'))).toBe(
      'k: truncated ELF header (40 bytes)',
    );
    expect(err(() => parseElf(good.subarray(0, 0x2000), 'k'))).toMatch(
      /^k: segment 0 .* extends past the end of the file \(truncated\?\)$/,
    );
  });

  it('never throws anything but a ToolstackError on corrupted images (fuzz)', () => {
    const base = buildElf({
      bits: 32,
      entry: 0x100000n,
      vaddr: 0x100000n,
      code: code.subarray(0, 256),
      notes: XTF_NOTES,
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { minLength: 1, maxLength: 12 }),
        fc.nat(base.length),
        (edits, cut) => {
          const img = base.slice(0, Math.max(cut, 64));
          for (const [at, v] of edits) if (at < img.length) img[at] = v;
          try {
            readXenKernelInfo(parseElf(img));
          } catch (e) {
            if (!(e instanceof ToolstackError)) throw e;
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});
