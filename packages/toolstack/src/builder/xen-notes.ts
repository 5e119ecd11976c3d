/**
 * Xen's guest ELF notes (`XEN_ELFNOTE_*`) and what the PV domain builder derives from them:
 * the guest type, the virtual layout, the entry point and the hypercall page. Tolerates the
 * malformed notes real images carry (GRUB's PAE note declares 12 bytes but ends after 4),
 * reporting them as warnings instead of refusing the kernel.
 *
 * @see xen/include/public/elfnote.h, xen/common/libelf/libelf-dominfo.c,
 *   tools/libs/guest/xg_dom_elfloader.c
 */
import { ToolstackError } from '../errors.ts';
import { type ElfImage, EM_386, PT_LOAD, PT_NOTE, SHT_NOTE } from './elf.ts';

/** XEN_ELFNOTE_* numbers, spelled as in `elfnote.h`. */
export const XEN_ELFNOTE = {
  INFO: 0,
  ENTRY: 1,
  HYPERCALL_PAGE: 2,
  VIRT_BASE: 3,
  PADDR_OFFSET: 4,
  XEN_VERSION: 5,
  GUEST_OS: 6,
  GUEST_VERSION: 7,
  LOADER: 8,
  PAE_MODE: 9,
  FEATURES: 10,
  BSD_SYMTAB: 11,
  HV_START_LOW: 12,
  L1_MFN_VALID: 13,
  SUSPEND_CANCEL: 14,
  INIT_P2M: 15,
  MOD_START_PFN: 16,
  SUPPORTED_FEATURES: 17,
  PHYS32_ENTRY: 18,
} as const;

const NUMERIC = new Set<number>([1, 2, 3, 4, 12, 14, 15, 16, 17, 18]);

/** XENFEAT_* names the FEATURES note may use, with their bit numbers. */
export const XENFEAT_NAMES: Readonly<Record<string, number>> = {
  writable_page_tables: 0,
  writable_descriptor_tables: 1,
  auto_translated_physmap: 2,
  supervisor_mode_kernel: 3,
  pae_pgdir_above_4gb: 4,
  hvm_callback_vector: 8,
  dom0: 11,
};

/** The PV guest ABIs, by the names Xen reports in `xen_caps`. */
export type PvGuestType = 'xen-3.0-x86_32p' | 'xen-3.0-x86_64';

/** What a Xen PV kernel declares about itself, after the builder's checks. */
export interface XenKernelInfo {
  /** The PV ABI the kernel needs. */
  readonly guestType: PvGuestType;
  /** Where the information came from. */
  readonly source: 'notes' | '__xen_guest';
  /** GUEST_OS (e.g. `GRUB`, `linux`). */
  readonly guestOs: string;
  /** GUEST_VERSION, when given. */
  readonly guestVersion?: string;
  /** XEN_VERSION (`xen-3.0`). */
  readonly xenVersion: string;
  /** LOADER (`generic`). */
  readonly loader: string;
  /** PAE_MODE: `yes`, `bimodal`, `no`. */
  readonly paeMode: 'yes' | 'bimodal' | 'no';
  /** VIRT_BASE. */
  readonly virtBase: bigint;
  /** PADDR_OFFSET. */
  readonly paddrOffset: bigint;
  /** The virtual entry point (ENTRY note, else `e_entry`). */
  readonly virtEntry: bigint;
  /** First virtual address of the kernel image. */
  readonly virtKstart: bigint;
  /** End (exclusive) of the kernel image. */
  readonly virtKend: bigint;
  /** Virtual address of the page to fill with hypercall stubs, when requested. */
  readonly hypercallPage?: bigint;
  /** INIT_P2M: where the tools should map the P2M list (x86_64), when given. */
  readonly initP2m?: bigint;
  /** HV_START_LOW, when given. */
  readonly hvStartLow?: bigint;
  /** MOD_START_PFN: the kernel accepts an unmapped initrd given by PFN. */
  readonly modStartPfn: boolean;
  /** SUSPEND_CANCEL. */
  readonly suspendCancel: boolean;
  /** XENFEAT names the kernel may use. */
  readonly features: readonly string[];
  /** XENFEAT names the kernel requires (`!name` in FEATURES). */
  readonly requiredFeatures: readonly string[];
  /** Non-fatal problems with the notes (malformed but tolerated). */
  readonly warnings: readonly string[];
}

/** The XENFEAT names this toolstack can provide to a PV guest. */
export const SUPPORTED_FEATURES: readonly string[] = [
  'writable_page_tables',
  'writable_descriptor_tables',
  'pae_pgdir_above_4gb',
];

interface RawNotes {
  readonly strings: Map<number, string>;
  readonly numbers: Map<number, bigint>;
  readonly warnings: string[];
}

function readNotes(
  bytes: Uint8Array,
  start: number,
  end: number,
  out: RawNotes,
  where: string,
): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let found = 0;
  let o = start;
  while (o + 12 <= end) {
    const namesz = dv.getUint32(o, true);
    const descsz = dv.getUint32(o + 4, true);
    const type = dv.getUint32(o + 8, true);
    const nameStart = o + 12;
    const descStart = nameStart + ((namesz + 3) & ~3);
    if (namesz > end - nameStart) break;
    const name = new TextDecoder().decode(
      bytes.subarray(nameStart, nameStart + Math.max(0, namesz - 1)),
    );
    const avail = Math.max(0, Math.min(descsz, end - descStart));
    if (name === 'Xen') {
      found++;
      const desc = bytes.subarray(descStart, descStart + avail);
      if (avail < descsz) {
        out.warnings.push(
          `${where}: note ${type} declares ${descsz} bytes but only ${avail} are present; read up to the end`,
        );
      }
      if (NUMERIC.has(type)) {
        if (avail === 4) out.numbers.set(type, BigInt(dv.getUint32(descStart, true)));
        else if (avail === 8) out.numbers.set(type, dv.getBigUint64(descStart, true));
        else out.warnings.push(`${where}: numeric note ${type} has a ${avail}-byte value; ignored`);
      } else {
        const nul = desc.indexOf(0);
        out.strings.set(type, new TextDecoder().decode(nul < 0 ? desc : desc.subarray(0, nul)));
      }
    }
    if (avail < descsz) break; // the next header's position is unknowable
    o = descStart + ((descsz + 3) & ~3);
  }
  return found;
}

function fail(what: string, msg: string): never {
  throw new ToolstackError('CONFIG', `${what}: ${msg}`);
}

function parseXenGuestSection(text: string, out: RawNotes, what: string): void {
  const map: Record<string, number> = {
    GUEST_OS: XEN_ELFNOTE.GUEST_OS,
    GUEST_VER: XEN_ELFNOTE.GUEST_VERSION,
    XEN_VER: XEN_ELFNOTE.XEN_VERSION,
    LOADER: XEN_ELFNOTE.LOADER,
    FEATURES: XEN_ELFNOTE.FEATURES,
  };
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    const str = map[key];
    if (str !== undefined) out.strings.set(str, value);
    else if (key === 'PAE')
      out.strings.set(XEN_ELFNOTE.PAE_MODE, value.startsWith('yes') ? 'yes' : value);
    else if (
      key === 'VIRT_BASE' ||
      key === 'ELF_PADDR_OFFSET' ||
      key === 'VIRT_ENTRY' ||
      key === 'HYPERCALL_PAGE'
    ) {
      if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(value))
        fail(what, `__xen_guest: ${key} has a malformed value "${value}"`);
      const n = BigInt(value);
      const note =
        key === 'VIRT_BASE'
          ? XEN_ELFNOTE.VIRT_BASE
          : key === 'ELF_PADDR_OFFSET'
            ? XEN_ELFNOTE.PADDR_OFFSET
            : key === 'VIRT_ENTRY'
              ? XEN_ELFNOTE.ENTRY
              : XEN_ELFNOTE.HYPERCALL_PAGE;
      out.numbers.set(note, n);
    }
  }
}

/**
 * Reads a kernel's Xen notes (PT_NOTE segments, else SHT_NOTE sections, else the legacy
 * `__xen_guest` section) and performs the PV builder's checks. Throws a `CONFIG`
 * {@link ToolstackError} naming `what` when the kernel cannot be booted as a PV guest.
 */
export function readXenKernelInfo(elf: ElfImage, what = 'kernel'): XenKernelInfo {
  const raw: RawNotes = { strings: new Map(), numbers: new Map(), warnings: [] };
  let source: XenKernelInfo['source'] = 'notes';
  let found = 0;
  for (const seg of elf.segments) {
    if (seg.type !== PT_NOTE) continue;
    const end = Math.min(elf.bytes.length, seg.offset + seg.filesz);
    found += readNotes(elf.bytes, seg.offset, end, raw, 'PT_NOTE');
  }
  if (found === 0) {
    for (const sec of elf.sections) {
      if (sec.type === SHT_NOTE)
        found += readNotes(elf.bytes, sec.offset, sec.offset + sec.size, raw, sec.name);
    }
  }
  if (found === 0) {
    const legacy = elf.sections.find((s) => s.name === '__xen_guest');
    if (legacy === undefined)
      fail(what, 'not a Xen PV kernel: no Xen ELF notes and no __xen_guest section');
    const body = elf.bytes.subarray(legacy.offset, legacy.offset + legacy.size);
    const nul = body.indexOf(0);
    parseXenGuestSection(
      new TextDecoder().decode(nul < 0 ? body : body.subarray(0, nul)),
      raw,
      what,
    );
    source = '__xen_guest';
  }

  const xenVersion = raw.strings.get(XEN_ELFNOTE.XEN_VERSION) ?? '';
  if (!xenVersion.startsWith('xen-3.0')) {
    fail(what, `XEN_VERSION note is "${xenVersion}", expected "xen-3.0" (not a Xen PV kernel?)`);
  }
  const guestOs = raw.strings.get(XEN_ELFNOTE.GUEST_OS) ?? '';
  const loader = raw.strings.get(XEN_ELFNOTE.LOADER) ?? '';
  if (loader !== 'generic' && !guestOs.toLowerCase().startsWith('linux')) {
    fail(what, `LOADER note is "${loader}", expected "generic"`);
  }
  const paeText = raw.strings.get(XEN_ELFNOTE.PAE_MODE);
  const paeMode: XenKernelInfo['paeMode'] =
    paeText === undefined
      ? 'no'
      : paeText.includes('bimodal')
        ? 'bimodal'
        : paeText.startsWith('yes')
          ? 'yes'
          : 'no';

  const features: string[] = [];
  const requiredFeatures: string[] = [];
  for (const f of (raw.strings.get(XEN_ELFNOTE.FEATURES) ?? '').split('|')) {
    if (f === '') continue;
    const name = f.startsWith('!') ? f.slice(1) : f;
    if (!(name in XENFEAT_NAMES)) {
      raw.warnings.push(`FEATURES: unknown feature "${name}" ignored`);
      continue;
    }
    (f.startsWith('!') ? requiredFeatures : features).push(name);
  }
  if (requiredFeatures.includes('auto_translated_physmap')) {
    fail(
      what,
      'the kernel requires auto_translated_physmap: PV autotranslate guests are not supported',
    );
  }
  const unsupported = requiredFeatures.filter((f) => !SUPPORTED_FEATURES.includes(f));
  if (unsupported.length > 0)
    fail(what, `the kernel requires unsupported Xen features: ${unsupported.join(', ')}`);

  let guestType: PvGuestType;
  if (elf.machine === EM_386) {
    if (paeMode === 'no')
      fail(
        what,
        'non-PAE 32-bit PV kernels are not supported (PAE_MODE note missing or not "yes")',
      );
    guestType = 'xen-3.0-x86_32p';
  } else {
    guestType = 'xen-3.0-x86_64';
  }

  // Address computation as libelf's elf_xen_addr_calc_check.
  const mask = elf.bits === 32 ? 0xffff_ffffn : 0xffff_ffff_ffff_ffffn;
  const virtBase = raw.numbers.get(XEN_ELFNOTE.VIRT_BASE) ?? 0n;
  const paddrOffset =
    raw.numbers.get(XEN_ELFNOTE.PADDR_OFFSET) ?? (source === '__xen_guest' ? virtBase : 0n);
  const loads = elf.segments.filter((s) => s.type === PT_LOAD && s.memsz > 0);
  if (loads.length === 0) fail(what, 'no loadable segments');
  let pstart = loads[0]?.paddr as bigint;
  let pend = 0n;
  for (const s of loads) {
    if (s.paddr < pstart) pstart = s.paddr;
    if (s.paddr + BigInt(s.memsz) > pend) pend = s.paddr + BigInt(s.memsz);
  }
  const virtOffset = (virtBase - paddrOffset) & mask;
  const virtKstart = (pstart + virtOffset) & mask;
  const virtKend = (pend + virtOffset) & mask;
  const virtEntry = raw.numbers.get(XEN_ELFNOTE.ENTRY) ?? elf.entry;
  const hex = (n: bigint): string => `0x${n.toString(16)}`;
  if (virtKend <= virtKstart)
    fail(what, `kernel image wraps the address space (${hex(virtKstart)}–${hex(virtKend)})`);
  if (virtEntry < virtKstart || virtEntry > virtKend) {
    fail(
      what,
      `entry point ${hex(virtEntry)} is outside the kernel image (${hex(virtKstart)}–${hex(virtKend)})`,
    );
  }
  if (virtBase > virtKstart)
    fail(what, `VIRT_BASE ${hex(virtBase)} is above the kernel start ${hex(virtKstart)}`);
  let hypercallPage = raw.numbers.get(XEN_ELFNOTE.HYPERCALL_PAGE);
  if (hypercallPage !== undefined && source === '__xen_guest')
    hypercallPage = virtBase + (hypercallPage << 12n);
  if (hypercallPage !== undefined && (hypercallPage < virtKstart || hypercallPage >= virtKend)) {
    fail(what, `HYPERCALL_PAGE ${hex(hypercallPage)} is outside the kernel image`);
  }

  const info: { -readonly [K in keyof XenKernelInfo]: XenKernelInfo[K] } = {
    guestType,
    source,
    guestOs,
    xenVersion,
    loader,
    paeMode,
    virtBase,
    paddrOffset,
    virtEntry,
    virtKstart,
    virtKend,
    modStartPfn: (raw.numbers.get(XEN_ELFNOTE.MOD_START_PFN) ?? 0n) !== 0n,
    suspendCancel: (raw.numbers.get(XEN_ELFNOTE.SUSPEND_CANCEL) ?? 0n) !== 0n,
    features,
    requiredFeatures,
    warnings: raw.warnings,
  };
  const guestVersion = raw.strings.get(XEN_ELFNOTE.GUEST_VERSION);
  if (guestVersion !== undefined) info.guestVersion = guestVersion;
  if (hypercallPage !== undefined) info.hypercallPage = hypercallPage;
  const initP2m = raw.numbers.get(XEN_ELFNOTE.INIT_P2M);
  if (initP2m !== undefined) info.initP2m = initP2m;
  const hvStartLow = raw.numbers.get(XEN_ELFNOTE.HV_START_LOW);
  if (hvStartLow !== undefined) info.hvStartLow = hvStartLow;
  return info;
}
