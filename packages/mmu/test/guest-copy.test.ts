import { describe, expect, it } from 'vitest';
import {
  copyFromGuest,
  copyToGuest,
  MachineMemory,
  PAGING_MODE,
  Translator,
  XEN_ERRNO,
} from '../src/index.ts';
import { get64lo, pte, put64 } from './helpers.ts';

function setup() {
  const mem = new MachineMemory({ bytes: 8 * 1024 * 1024 });
  // VA 0x1000 → frame 0x100 (user RW), VA 0x2000 → frame 0x200 (user RO), VA 0x3000 absent.
  put64(mem, 1, 0, pte(2, 7));
  put64(mem, 2, 0, pte(3, 7));
  put64(mem, 3, 0, pte(4, 7));
  put64(mem, 4, 1, pte(0x100, 7));
  put64(mem, 4, 2, pte(0x200, 5));
  // Top of the lower half: VA 0x7fff_ffff_f000 (4-level slots 255/511/511/511) → frame 0x300.
  put64(mem, 1, 255, pte(5, 7));
  put64(mem, 5, 511, pte(6, 7));
  put64(mem, 6, 511, pte(7, 7));
  put64(mem, 7, 511, pte(0x300, 7));
  const t = new Translator(mem);
  t.setPaging({ mode: PAGING_MODE.LONG, cr3Lo: 0x1000, cr3Hi: 0, wp: true, pse: false, nxe: true });
  return { mem, t };
}

describe('copying to and from guest linear memory', () => {
  it('copies across a page boundary and sets the dirty bit of written pages', () => {
    const { mem, t } = setup();
    const src = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
    mem.writeBytes(0x200, 0, src.subarray(32));
    expect(copyToGuest(t, mem, 0x1fe0, 0, src.subarray(0, 32), true)).toBe(0);
    expect(get64lo(mem, 4, 1) & 0x40).toBe(0x40);
    const dst = new Uint8Array(64);
    expect(copyFromGuest(t, mem, 0x1fe0, 0, dst, true)).toBe(0);
    expect(Array.from(dst)).toEqual(Array.from(src));
  });

  it('returns -EFAULT for read-only or missing pages and leaves the fault code', () => {
    const { mem, t } = setup();
    expect(copyToGuest(t, mem, 0x2000, 0, new Uint8Array(4), true)).toBe(-XEN_ERRNO.EFAULT);
    expect(t.faultCode).toBe(0x7);
    expect(copyFromGuest(t, mem, 0x2ff0, 0, new Uint8Array(32))).toBe(-XEN_ERRNO.EFAULT);
    expect(t.faultCode).toBe(0);
  });

  it('carries into the high half of 64-bit addresses', () => {
    const { mem, t } = setup();
    mem.write8(0x300, 0xfff, 0xab);
    const dst = new Uint8Array(2);
    // 0x7fff_ffff_ffff plus one crosses into the non-canonical hole: the second byte faults.
    expect(copyFromGuest(t, mem, 0xffffffff | 0, 0x7fff, dst)).toBe(-XEN_ERRNO.EFAULT);
    expect(dst[0]).toBe(0xab);
  });
});
