/**
 * The 64-bit PV hypercall table: `console_io`, `xen_version` and `sched_op` here, everything else
 * through the core dispatcher (event channels, grant tables, timers, vcpu_op), and `-ENOSYS` for
 * the rest, as Xen's `pv_hypercall` does for numbers without a handler.
 * @see xen/arch/x86/pv/hypercall.c, xen/include/hypercall-defs.c
 */
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS, XEN_EPERM } from '../abi/errno.ts';
import {
  __HYPERVISOR_callback_op,
  __HYPERVISOR_console_io,
  __HYPERVISOR_fpu_taskswitch,
  __HYPERVISOR_memory_op,
  __HYPERVISOR_mmu_update,
  __HYPERVISOR_mmuext_op,
  __HYPERVISOR_multicall,
  __HYPERVISOR_physdev_op,
  __HYPERVISOR_sched_op,
  __HYPERVISOR_set_segment_base,
  __HYPERVISOR_stack_switch,
  __HYPERVISOR_update_va_mapping,
  __HYPERVISOR_vcpu_op,
  __HYPERVISOR_vm_assist,
  __HYPERVISOR_xen_version,
} from '../abi/hypercalls.ts';
import {
  SCHEDOP_block,
  SCHEDOP_pin_override,
  SCHEDOP_poll,
  SCHEDOP_remote_shutdown,
  SCHEDOP_shutdown,
  SCHEDOP_shutdown_code,
  SCHEDOP_yield,
  SHUTDOWN_poweroff,
} from '../abi/sched.ts';
import {
  XENVER_build_id,
  XENVER_capabilities,
  XENVER_changeset,
  XENVER_commandline,
  XENVER_compile_info,
  XENVER_extraversion,
  XENVER_get_features,
  XENVER_guest_handle,
  XENVER_pagesize,
  XENVER_platform_parameters,
  XENVER_version,
} from '../abi/version.ts';
import { type CallbackPort, callbackOp } from '../hypercall/callback-op.ts';
import type { HypercallContext } from '../hypercall/context.ts';
import { dispatchHypercall, type HypercallHost } from '../hypercall/dispatch.ts';
import {
  MEMOP_CMD_MASK,
  MEMOP_EXTENT_SHIFT,
  type MemoryReservationPort,
  memoryOp,
} from '../hypercall/memory-op.ts';
import { multicall } from '../hypercall/multicall.ts';
import { type PhysdevPort, physdevOp } from '../hypercall/physdev-op.ts';
import {
  fpuTaskswitch,
  type PvArchPort,
  setSegmentBase,
  stackSwitch,
  vmAssist,
} from '../hypercall/pv-arch-op.ts';
import { type PvVcpuOpPort, pvVcpuOp } from '../hypercall/pv-vcpu-op.ts';
import { schedPoll } from '../hypercall/sched-poll.ts';
import { type PvSmpPort, smpVcpuOp } from '../hypercall/smp-vcpu-op.ts';
import { VCPU_LIFECYCLE } from '../hypercall/vcpu-initialise.ts';
import type { PvMmPort, PvMmuextOp } from './ports.ts';

/** `CONSOLEIO_write`. @see xen/include/public/xen.h */
export const CONSOLEIO_write = 0;
/** `CONSOLEIO_read`. @see xen/include/public/xen.h */
export const CONSOLEIO_read = 1;

/** What a PV vCPU does after a hypercall returns. */
export const PV_NEXT = {
  /** Keep running the guest. */ CONTINUE: 0,
  /** SCHEDOP_yield: give the physical CPU back to the scheduler. */ YIELD: 1,
  /** SCHEDOP_block: wait for an event. */ BLOCK: 2,
  /** SCHEDOP_shutdown: the domain is gone. */ SHUTDOWN: 3,
  /**
   * The hypercall was preempted (`hypercall_create_continuation`): re-execute the hypercall
   * instruction with `env.continuation` as its arguments, after giving the CPU back.
   */
  PREEMPTED: 4,
} as const;

/**
 * Requests or ops a PV vCPU lets one mmu_update / mmuext_op invocation handle before preempting
 * it with a continuation (the default of `preemptAfter`): about 75 µs of mmu_update at the
 * 13.6 M requests/s of `bench/mmu/mmu-update.bench.ts`.
 */
export const PV_PREEMPT_AFTER = 1024;

/** A value of {@link PV_NEXT}. */
export type PvNext = (typeof PV_NEXT)[keyof typeof PV_NEXT];

/** What `xen_version` reports. @see xen/include/public/version.h */
export interface XenVersionInfo {
  /** Major version (4). */
  readonly major: number;
  /** Minor version (17). */
  readonly minor: number;
  /** XENVER_extraversion (at most 15 bytes), e.g. ".0". */
  readonly extraversion: string;
  /** XENVER_capabilities, e.g. "xen-3.0-x86_64 xen-3.0-x86_32p". */
  readonly capabilities: string;
  /** XENVER_changeset (at most 63 bytes). */
  readonly changeset: string;
  /** XENVER_get_features submap 0 for this guest. */
  readonly features: number;
}

/**
 * XENFEAT_* bits Xen 4.17 reports for a 64-bit PV domU: mmu_pt_update_preserve_ad (5),
 * highmem_assist (6), gnttab_map_avail_bits (7), memory_op_vnode_supported (13) and
 * direct_mapped (17) — 0x220e0, as the ABI reference guest recorded under Xen 4.17
 * (`test/abi-ref/golden-x86_64.txt`). The runstate/vcpu_time phys-area bits (18, 19) and
 * dm_msix_all_writes (20) arrived after 4.17.
 * @see xen/include/public/features.h, xen/common/kernel.c
 */
export const PV_DOMU_FEATURES: number = (1 << 5) | (1 << 6) | (1 << 7) | (1 << 13) | (1 << 17);

/** The default {@link XenVersionInfo}: Xen 4.17 on x86_64. */
export const DEFAULT_XEN_VERSION: XenVersionInfo = {
  major: 4,
  minor: 17,
  extraversion: '.0-typevisor',
  capabilities: 'xen-3.0-x86_64 xen-3.0-x86_32p',
  changeset: 'typevisor',
  features: PV_DOMU_FEATURES,
};

/** Everything the PV table needs besides the core host. */
export interface PvHypercallEnv {
  /** The core hypercall families. */
  readonly host: HypercallHost;
  /** The caller. */
  readonly ctx: HypercallContext;
  /** PV memory management (update_va_mapping); without it those hypercalls are -ENOSYS. */
  readonly mm: PvMmPort | null;
  /** Drops the calling vCPU's cached translations (after a page-table change). */
  readonly flushTlb: () => void;
  /** Points the calling vCPU's CR3 at the new top-level table (MMUEXT_NEW_BASEPTR). */
  readonly setBasePointer: (mfn: number) => void;
  /** Receives CONSOLEIO_write output. */
  readonly console: (bytes: Uint8Array) => void;
  /** What xen_version reports. */
  readonly version: XenVersionInfo;
  /** Set by SCHEDOP_shutdown / SCHEDOP_shutdown_code: the reason, else -1. */
  shutdownReason: number;
  /** Set by SCHEDOP_shutdown_code: the latched code, else -1. */
  shutdownCode: number;
  /** Set by the table: what the vCPU does next. */
  next: PvNext;
  /**
   * Requests (mmu_update) or ops (mmuext_op) one invocation handles before it is preempted with
   * a continuation, as Xen's `hypercall_preempt_check` would between two of them; absent: never.
   */
  readonly preemptAfter?: number;
  /** With {@link PV_NEXT.PREEMPTED}: the arguments the hypercall is re-executed with. */
  continuation?: readonly bigint[];
  /** True while nothing may be preempted: every batch then runs to completion. */
  inMulticall?: boolean;
  /**
   * Requests and multicall entries handled since the vCPU entered this hypercall (it resets
   * it): what {@link PvHypercallEnv.preemptAfter} is counted against.
   */
  work?: number;
  /** memory_op's frame owner; without it memory_op is -ENOSYS. */
  readonly memory?: MemoryReservationPort | null;
  /** vm_assist, set_segment_base, fpu_taskswitch, stack_switch state; without it -ENOSYS. */
  readonly arch?: PvArchPort;
  /** callback_op's callback registry; without it callback_op is -ENOSYS. */
  readonly callbacks?: CallbackPort;
  /** physdev_op's PIRQs and IOPL; without it physdev_op is -ENOSYS. */
  readonly physdev?: PhysdevPort;
  /** Runstates for vcpu_op's PV additions; without it vcpu_op is the core subset. */
  readonly vcpuOps?: PvVcpuOpPort;
  /**
   * The domain's vCPU lifecycle (VCPUOP_initialise/up/down/is_up, other vCPUs' runstates);
   * without it every vCPU counts as up and initialise/up/down are the core subset's.
   */
  readonly smp?: PvSmpPort;
  /**
   * Runs one multicall entry (the vCPU's whole hypercall table, including the calls it handles
   * itself); without it entries go through {@link pvHypercall}.
   */
  readonly batch?: (nr: number, args: readonly bigint[]) => number;
}

/** Largest CONSOLEIO_write chunk handed to the sink at once. */
const CONSOLE_CHUNK = 4096;
/** `HYPERVISOR_VIRT_START` for 64-bit PV (XENVER_platform_parameters). */
const HYPERVISOR_VIRT_START_64 = 0xffff800000000000n;

function u32(v: bigint | undefined): number {
  return Number(BigInt.asUintN(32, v ?? 0n));
}

/** A pointer argument as an unsigned number, or -1 if it cannot be a lower-half address. */
function ptr(v: bigint | undefined): number {
  const u = BigInt.asUintN(64, v ?? 0n);
  return u >= 1n << 47n ? -1 : Number(u);
}

/** The bytes of `text` (Latin-1 / ASCII; no platform encoder in this package), cut to `max`. */
function ascii(text: string, max: number): Uint8Array {
  const n = Math.min(text.length, max);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

function writeString(env: PvHypercallEnv, address: number, text: string, size: number): number {
  const buf = new Uint8Array(size);
  buf.set(ascii(text, size - 1));
  return env.ctx.guest.write(address, buf) ? 0 : -XEN_EFAULT;
}

/** `HYPERVISOR_console_io(cmd, count, buffer)`. @see xen/drivers/char/console.c (do_console_io) */
function consoleIo(env: PvHypercallEnv, cmd: number, count: number, address: number): number {
  if (cmd === CONSOLEIO_read) return 0; // no input for a domU
  if (cmd !== CONSOLEIO_write) return -XEN_ENOSYS;
  if (address < 0) return count === 0 ? 0 : -XEN_EFAULT;
  let done = 0;
  while (done < count) {
    const n = Math.min(CONSOLE_CHUNK, count - done);
    const chunk = new Uint8Array(n);
    if (!env.ctx.guest.read(address + done, chunk)) return -XEN_EFAULT;
    env.console(chunk);
    done += n;
  }
  return 0;
}

/** `HYPERVISOR_xen_version(cmd, arg)`. @see xen/common/kernel.c (do_xen_version) */
function xenVersion(env: PvHypercallEnv, cmd: number, address: number): number {
  const v = env.version;
  const g = env.ctx.guest;
  switch (cmd) {
    case XENVER_version:
      return ((v.major & 0xffff) << 16) | (v.minor & 0xffff);
    case XENVER_pagesize:
      return 4096;
    case XENVER_extraversion:
      return writeString(env, address, v.extraversion, 16);
    case XENVER_changeset:
      return writeString(env, address, v.changeset, 64);
    case XENVER_capabilities:
      return writeString(env, address, v.capabilities, 1024);
    case XENVER_compile_info: {
      const buf = new Uint8Array(144);
      buf.set(ascii('typescript', 63), 0);
      buf.set(ascii('typevisor', 15), 64);
      buf.set(ascii('typevisor', 31), 80);
      return g.write(address, buf) ? 0 : -XEN_EFAULT;
    }
    case XENVER_platform_parameters: {
      const buf = new Uint8Array(8);
      new DataView(buf.buffer).setBigUint64(0, HYPERVISOR_VIRT_START_64, true);
      return g.write(address, buf) ? 0 : -XEN_EFAULT;
    }
    case XENVER_get_features: {
      const buf = new Uint8Array(8);
      if (!g.read(address, buf)) return -XEN_EFAULT;
      const view = new DataView(buf.buffer);
      if (view.getUint32(0, true) !== 0) return -XEN_EINVAL;
      view.setUint32(4, v.features >>> 0, true);
      return g.write(address, buf) ? 0 : -XEN_EFAULT;
    }
    case XENVER_guest_handle:
      return g.write(address, new Uint8Array(16)) ? 0 : -XEN_EFAULT;
    case XENVER_commandline:
    case XENVER_build_id:
      return -XEN_EPERM; // XSM's default policy keeps these for privileged domains
    default:
      return -XEN_ENOSYS;
  }
}

/** `HYPERVISOR_sched_op(cmd, arg)`. @see xen/common/sched/core.c (do_sched_op) */
function schedOp(env: PvHypercallEnv, cmd: number, address: number): number {
  switch (cmd) {
    case SCHEDOP_yield:
      env.next = PV_NEXT.YIELD;
      return 0;
    case SCHEDOP_block:
      env.next = PV_NEXT.BLOCK;
      return 0;
    case SCHEDOP_shutdown:
    case SCHEDOP_shutdown_code: {
      const buf = new Uint8Array(4);
      if (!env.ctx.guest.read(address, buf)) return -XEN_EFAULT;
      const reason = (buf[0] ?? 0) & 0xff; // domain_shutdown takes a u8
      if (cmd === SCHEDOP_shutdown_code) {
        env.shutdownCode = reason;
        return 0;
      }
      env.shutdownReason = reason;
      env.next = PV_NEXT.SHUTDOWN;
      return 0;
    }
    case SCHEDOP_poll: {
      const rc = schedPoll(env.host.evtchn, env.ctx, address);
      if (rc === 0) env.next = PV_NEXT.YIELD; // see sched-poll.ts: resume at the next scheduling point
      return rc;
    }
    case SCHEDOP_remote_shutdown:
    case SCHEDOP_pin_override:
      return -XEN_EPERM; // control / hardware domain only
    default:
      return -XEN_ENOSYS;
  }
}

/** `HYPERVISOR_update_va_mapping(va, val, flags)`. @see xen/arch/x86/mm.c (do_update_va_mapping) */
function updateVaMapping(env: PvHypercallEnv, va: bigint, val: bigint, flags: number): number {
  if (env.mm === null) return -XEN_ENOSYS;
  const v = BigInt.asUintN(64, va);
  const p = BigInt.asUintN(64, val);
  const rc = env.mm.updateVaMapping(
    env.ctx.domid,
    env.ctx.vcpu,
    Number(v & 0xffffffffn) | 0,
    Number(v >> 32n) | 0,
    Number(p & 0xffffffffn) | 0,
    Number(p >> 32n) | 0,
    flags,
  );
  if (rc === 0) env.flushTlb();
  return rc;
}

/** Requests read from the guest per batch (one page of `struct mmu_update`). */
const MMU_BATCH = 256;
/** `MMU_UPDATE_PREEMPTED`: the continuation flag in a count. */
const PREEMPTED = 0x80000000;
/** `MMUEXT_NEW_BASEPTR`. */
const MMUEXT_NEW_BASEPTR = 5;
/** `MMUEXT_TLB_FLUSH_MULTI` and `MMUEXT_INVLPG_MULTI`: arg2 is a vCPU bitmap pointer. */
const MMUEXT_TLB_FLUSH_MULTI = 8;
const MMUEXT_INVLPG_MULTI = 9;

/**
 * How many requests the current invocation may handle before a continuation: what is left of
 * `preemptAfter` after the work done so far in this hypercall (at least one when none was).
 */
export function preemptLimit(env: PvHypercallEnv): number {
  if (env.inMulticall === true) return Number.POSITIVE_INFINITY;
  const work = env.work ?? 0;
  return Math.max((env.preemptAfter ?? Number.POSITIVE_INFINITY) - work, work > 0 ? 0 : 1);
}

/**
 * The requests a preempted batch completed before this invocation: `*pdone` when the count
 * carries MMU_UPDATE_PREEMPTED (Xen re-reads it; an unreadable one counts as 0).
 */
export function doneBefore(env: PvHypercallEnv, count: number, pdone: number): number {
  if ((count & PREEMPTED) === 0 || pdone === 0) return 0;
  const buf = new Uint8Array(4);
  if (!env.ctx.guest.read(pdone, buf)) return 0;
  return (buf[0] ?? 0) | ((buf[1] ?? 0) << 8) | ((buf[2] ?? 0) << 16) | ((buf[3] ?? 0) << 24);
}

/**
 * `hypercall_create_continuation(op, "hihi", next, left | MMU_UPDATE_PREEMPTED, pdone,
 * foreigndom)`: records `*pdone` so far and the arguments to re-execute with.
 */
export function preempt(
  env: PvHypercallEnv,
  next: number,
  left: number,
  pdone: number,
  done: number,
  foreigndom: number,
): number {
  const rc = writeDone(env, pdone, done, 0);
  if (rc !== 0) return rc;
  env.next = PV_NEXT.PREEMPTED;
  env.continuation = [
    BigInt(next),
    BigInt((left | PREEMPTED) >>> 0),
    BigInt(pdone),
    BigInt(foreigndom >>> 0),
  ];
  return 0;
}

/** Writes the number of completed requests to `pdone` (NULL = 0 is skipped). */
export function writeDone(env: PvHypercallEnv, pdone: number, done: number, rc: number): number {
  if (pdone === 0) return rc;
  const buf = Uint8Array.of(done & 0xff, (done >>> 8) & 0xff, (done >>> 16) & 0xff, done >>> 24);
  return env.ctx.guest.write(pdone, buf) ? rc : -XEN_EFAULT;
}

/**
 * `HYPERVISOR_mmu_update(reqs, count, pdone, foreigndom)` in batches; after
 * `env.preemptAfter` requests it is preempted with a continuation (the rest of the list, the
 * count left | MMU_UPDATE_PREEMPTED, `*pdone` = done so far), and a count carrying
 * MMU_UPDATE_PREEMPTED resumes from `*pdone`, as Xen does.
 * @see xen/arch/x86/mm.c (do_mmu_update)
 */
function mmuUpdate(
  env: PvHypercallEnv,
  reqs: number,
  count: number,
  pdone: number,
  foreigndom: number,
): number {
  const mm = env.mm;
  if (mm === null) return -XEN_ENOSYS;
  const base = doneBefore(env, count, pdone);
  const n = count & ~PREEMPTED;
  const limit = preemptLimit(env);
  let done = 0;
  const buf = new Uint8Array(MMU_BATCH * 16);
  while (done < n) {
    if (done >= limit)
      return preempt(env, reqs + done * 16, n - done, pdone, base + done, foreigndom);
    const k = Math.min(MMU_BATCH, n - done, Math.max(1, limit - done));
    const view = buf.subarray(0, k * 16);
    if (reqs < 0 || !env.ctx.guest.read(reqs + done * 16, view)) {
      return writeDone(env, pdone, base + done, -XEN_EFAULT);
    }
    const rc = mm.mmuUpdate(env.ctx.domid, new Int32Array(buf.buffer, 0, k * 4), k, foreigndom);
    done += mm.done;
    env.work = (env.work ?? 0) + mm.done;
    env.flushTlb();
    if (rc !== 0) return writeDone(env, pdone, base + done, rc);
  }
  return writeDone(env, pdone, base + done, 0);
}

/**
 * `HYPERVISOR_mmuext_op(ops, count, pdone, foreigndom)` with 24-byte 64-bit `struct mmuext_op`s,
 * preempted and resumed as {@link mmuUpdate} (MMU_UPDATE_PREEMPTED in the count).
 * @see xen/arch/x86/mm.c (do_mmuext_op)
 */
function mmuextOp(
  env: PvHypercallEnv,
  opsPtr: number,
  count: number,
  pdone: number,
  foreigndom: number,
): number {
  const mm = env.mm;
  if (mm === null) return -XEN_ENOSYS;
  const base = doneBefore(env, count, pdone);
  const n = count & ~PREEMPTED;
  const limit = preemptLimit(env);
  const g = env.ctx.guest;
  let done = 0;
  const raw = new Uint8Array(24);
  const view = new DataView(raw.buffer);
  const one: PvMmuextOp[] = [{ cmd: 0, arg1Lo: 0, arg1Hi: 0, arg2: 0 }];
  while (done < n) {
    if (done >= limit)
      return preempt(env, opsPtr + done * 24, n - done, pdone, base + done, foreigndom);
    if (opsPtr < 0 || !g.read(opsPtr + done * 24, raw))
      return writeDone(env, pdone, base + done, -XEN_EFAULT);
    const cmd = view.getUint32(0, true);
    let arg2 = view.getUint32(16, true);
    if (cmd === MMUEXT_TLB_FLUSH_MULTI || cmd === MMUEXT_INVLPG_MULTI) {
      const mask = new Uint8Array(4);
      const at = ptr(view.getBigUint64(16, true));
      if (at < 0 || !g.read(at, mask)) return writeDone(env, pdone, base + done, -XEN_EFAULT);
      arg2 = new DataView(mask.buffer).getUint32(0, true);
    }
    one[0] = { cmd, arg1Lo: view.getInt32(8, true), arg1Hi: view.getInt32(12, true), arg2 };
    const rc = mm.mmuextOp(env.ctx.domid, env.ctx.vcpu, one, foreigndom);
    env.flushTlb();
    if (rc !== 0) return writeDone(env, pdone, base + done, rc);
    if (cmd === MMUEXT_NEW_BASEPTR) env.setBasePointer(view.getUint32(8, true));
    done++;
    env.work = (env.work ?? 0) + 1;
  }
  return writeDone(env, pdone, base + done, 0);
}

/**
 * `HYPERVISOR_vm_assist(cmd, type)`: recorded in the vCPU's PV state and, when the MMU models
 * the assist (m2p_strict, pae_extended_cr3 …), passed on so page-table handling follows it.
 */
function pvVmAssist(env: PvHypercallEnv, cmd: number, type: number): number {
  if (!env.arch) return -XEN_ENOSYS;
  const rc = vmAssist(env.arch, cmd, type);
  if (rc === 0 && env.mm?.vmAssist) return env.mm.vmAssist(env.ctx.domid, cmd, type);
  return rc;
}

/**
 * `HYPERVISOR_multicall`: each entry through `env.batch` (or this table); stops at a shutdown.
 * Each entry counts one unit of `env.work`; once `preemptAfter` is reached, or when an entry's
 * own call is preempted, the batch is continued from that entry (`multicall.ts`).
 */
function runMulticall(env: PvHypercallEnv, list: number, count: number): number {
  if (list < 0) return count === 0 ? 0 : -XEN_EFAULT;
  const run = env.batch ?? ((nr: number, args: readonly bigint[]) => pvHypercall(env, nr, args));
  const limit = env.preemptAfter ?? Number.POSITIVE_INFINITY;
  let next: PvNext = PV_NEXT.CONTINUE;
  let sub: readonly bigint[] | null = null;
  let resumeAt = -1;
  let left = 0;
  const rc = multicall(
    {
      call: (nr, args) => {
        env.work = (env.work ?? 0) + 1;
        const r = run(nr, args);
        const after = env.next as PvNext;
        if (after === PV_NEXT.PREEMPTED) sub = env.continuation ?? [];
        else if (after !== PV_NEXT.CONTINUE) next = after;
        return r;
      },
      stopped: () => next === PV_NEXT.SHUTDOWN,
      preempted: () => {
        const s = sub;
        sub = null;
        return s;
      },
      preemptNow: () => env.inMulticall !== true && (env.work ?? 0) >= limit,
      continueAt: (at, n) => {
        resumeAt = at;
        left = n;
      },
    },
    env.ctx,
    list,
    count,
  );
  if (rc === 0 && resumeAt >= 0) {
    // hypercall_create_continuation(__HYPERVISOR_multicall, "hi", call_list + i, nr_calls - i)
    env.next = PV_NEXT.PREEMPTED;
    env.continuation = [BigInt(resumeAt), BigInt(left)];
    return 0;
  }
  env.next = next;
  return rc;
}

/**
 * `HYPERVISOR_memory_op(cmd, arg)`: a reservation command that has done `preemptAfter` extents
 * is continued as Xen's `do_memory_op` (the same call with `cmd | done << MEMOP_EXTENT_SHIFT`).
 */
function runMemoryOp(env: PvHypercallEnv, cmd: number, arg: bigint): number {
  const preempt = { limit: preemptLimit(env), at: -1 };
  const rc = memoryOp(env.memory ?? null, env.ctx, cmd, ptr(arg), preempt);
  if (preempt.at < 0) return rc;
  const start = cmd >>> MEMOP_EXTENT_SHIFT;
  env.work = (env.work ?? 0) + (preempt.at - start);
  env.next = PV_NEXT.PREEMPTED;
  env.continuation = [
    BigInt(((cmd & MEMOP_CMD_MASK) | (preempt.at << MEMOP_EXTENT_SHIFT)) >>> 0),
    BigInt.asUintN(64, arg),
  ];
  return 0;
}

/**
 * Runs 64-bit PV hypercall `nr` with argument registers `args` (RDI, RSI, RDX, R10, R8) and
 * returns the value for RAX. Sets `env.next` (and the shutdown fields). Never throws for
 * guest-chosen values.
 */
export function pvHypercall(env: PvHypercallEnv, nr: number, args: readonly bigint[]): number {
  env.next = PV_NEXT.CONTINUE;
  switch (nr) {
    case __HYPERVISOR_console_io:
      return consoleIo(env, u32(args[0]), u32(args[1]), ptr(args[2]));
    case __HYPERVISOR_xen_version:
      return xenVersion(env, u32(args[0]), ptr(args[1]));
    case __HYPERVISOR_sched_op:
      return schedOp(env, u32(args[0]), ptr(args[1]));
    case __HYPERVISOR_mmu_update:
      return mmuUpdate(env, ptr(args[0]), u32(args[1]), ptr(args[2]), u32(args[3]));
    case __HYPERVISOR_mmuext_op:
      return mmuextOp(env, ptr(args[0]), u32(args[1]), ptr(args[2]), u32(args[3]));
    case __HYPERVISOR_update_va_mapping:
      return updateVaMapping(env, args[0] ?? 0n, args[1] ?? 0n, u32(args[2]));
    case __HYPERVISOR_memory_op:
      return runMemoryOp(env, u32(args[0]), args[1] ?? 0n);
    case __HYPERVISOR_multicall:
      return runMulticall(env, ptr(args[0]), u32(args[1]));
    case __HYPERVISOR_vm_assist:
      return pvVmAssist(env, u32(args[0]), u32(args[1]));
    case __HYPERVISOR_set_segment_base:
      return env.arch ? setSegmentBase(env.arch, u32(args[0]), args[1] ?? 0n) : -XEN_ENOSYS;
    case __HYPERVISOR_fpu_taskswitch:
      return env.arch ? fpuTaskswitch(env.arch, u32(args[0])) : -XEN_ENOSYS;
    case __HYPERVISOR_stack_switch:
      return env.arch ? stackSwitch(env.arch, u32(args[0]), args[1] ?? 0n) : -XEN_ENOSYS;
    case __HYPERVISOR_callback_op:
      return env.callbacks
        ? callbackOp(env.callbacks, env.ctx, u32(args[0]), ptr(args[1]))
        : -XEN_ENOSYS;
    case __HYPERVISOR_physdev_op:
      return env.physdev
        ? physdevOp(env.physdev, env.ctx, u32(args[0]), ptr(args[1]))
        : -XEN_ENOSYS;
    case __HYPERVISOR_vcpu_op:
      if (env.smp !== undefined) {
        const r = smpVcpuOp(env.smp, env.ctx, u32(args[0]), u32(args[1]), ptr(args[2]));
        if (r !== null) {
          if (r.effect === VCPU_LIFECYCLE.SELF_DOWN) env.next = PV_NEXT.YIELD;
          else if (r.effect === VCPU_LIFECYCLE.LAST_DOWN) {
            env.shutdownReason = SHUTDOWN_poweroff;
            env.next = PV_NEXT.SHUTDOWN;
          }
          return r.rc;
        }
      }
      return env.vcpuOps
        ? pvVcpuOp(env.host, env.vcpuOps, env.ctx, u32(args[0]), u32(args[1]), ptr(args[2]))
        : dispatchHypercall(env.host, env.ctx, nr, args);
    default:
      return dispatchHypercall(env.host, env.ctx, nr, args);
  }
}
