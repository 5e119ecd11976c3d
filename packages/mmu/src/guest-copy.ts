/**
 * Copying between hypervisor buffers and guest linear memory through a vCPU's translation
 * (Xen's `copy_from_guest` / `copy_to_guest`): page by page, so buffers may cross pages, with
 * every page translated for the right access (writes go through `ACCESS.WRITE`, so they set
 * dirty bits and are seen by log-dirty). A fault anywhere gives `-EFAULT`; nothing is copied
 * past the faulting page.
 * @see xen/arch/x86/usercopy.c, xen/include/xen/guest_access.h
 * @module
 */
import { XEN_ERRNO } from './abi.ts';
import type { MachineMemory } from './machine-memory.ts';
import { ACCESS } from './paging.ts';
import type { TranslationPort } from './translator.ts';

/**
 * Copies `dst.length` bytes from guest linear address `hi:lo` into `dst`. `user` makes it a
 * CPL-3 access. Returns 0, or `-EFAULT` (the port's `faultCode` tells why) if a page does not
 * translate or is not RAM.
 */
export function copyFromGuest(
  port: TranslationPort,
  memory: MachineMemory,
  lo: number,
  hi: number,
  dst: Uint8Array,
  user = false,
): number {
  return copy(port, memory, lo, hi, dst, user ? ACCESS.USER : ACCESS.READ, false);
}

/** Copies `src` to guest linear address `hi:lo`. Returns 0 or `-EFAULT`, as {@link copyFromGuest}. */
export function copyToGuest(
  port: TranslationPort,
  memory: MachineMemory,
  lo: number,
  hi: number,
  src: Uint8Array,
  user = false,
): number {
  return copy(port, memory, lo, hi, src, ACCESS.WRITE | (user ? ACCESS.USER : 0), true);
}

function copy(
  port: TranslationPort,
  memory: MachineMemory,
  lo: number,
  hi: number,
  buf: Uint8Array,
  access: number,
  toGuest: boolean,
): number {
  let done = 0;
  let vlo = lo >>> 0;
  let vhi = hi | 0;
  while (done < buf.length) {
    const frame = port.translate(vlo | 0, vhi, access);
    if (frame < 0 || frame >= memory.frames) return -XEN_ERRNO.EFAULT;
    const off = vlo & 0xfff;
    const n = Math.min(4096 - off, buf.length - done);
    const chunk = toGuest
      ? memory.u8Chunks[memory.chunkForWrite(frame)]
      : memory.u8Chunks[frame >>> 9];
    const base = ((frame & 511) << 12) + off;
    if (toGuest) chunk.set(buf.subarray(done, done + n), base);
    else buf.set(chunk.subarray(base, base + n), done);
    done += n;
    vlo += n;
    if (vlo >= 0x100000000) {
      vlo -= 0x100000000;
      vhi = (vhi + 1) | 0;
    }
  }
  return 0;
}
