import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DirtyLogPort,
  GNTMAP_host_map,
  GNTMAP_readonly,
  GNTST_okay,
  GTF_permit_access,
  LogDirtyControl,
  type LogDirtyCpuPort,
  LogDirtyWalker,
  type PvWalkerPort,
  type PvWalkRequest,
  type ShadowOpStats,
  XEN_DOMCTL_SHADOW_ENABLE_LOG_DIRTY,
  XEN_DOMCTL_SHADOW_OP_CLEAN,
  XEN_DOMCTL_SHADOW_OP_ENABLE,
  XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
  XEN_DOMCTL_SHADOW_OP_OFF,
  XEN_DOMCTL_SHADOW_OP_PEEK,
  XEN_EINVAL,
  XEN_EPERM,
  XEN_ESRCH,
} from '../src/index.ts';
import { grantHost, writeGrant } from './helpers.ts';

/**
 * A dirty log over a flat machine where domain 1 owns frames 0..31 as PFN = MFN (the shape of
 * `@typevisor/mmu`'s DirtyLog, which the toolstack uses).
 */
class FlatDirtyLog implements DirtyLogPort {
  private readonly maps = new Map<number, Set<number>>();
  private readonly faults = new Map<number, number>();

  enable(domid: number): void {
    this.maps.set(domid, new Set());
    this.faults.set(domid, 0);
  }
  disable(domid: number): void {
    this.maps.delete(domid);
  }
  enabled(domid: number): boolean {
    return this.maps.has(domid);
  }
  markMfn(mfn: number): void {
    if (mfn < 0 || mfn >= 32) return;
    const s = this.maps.get(1);
    if (s === undefined) return;
    s.add(mfn);
    this.faults.set(1, (this.faults.get(1) ?? 0) + 1);
  }
  private bitmap(domid: number): Uint8Array | null {
    const s = this.maps.get(domid);
    if (s === undefined) return null;
    const bm = new Uint8Array(4);
    for (const pfn of s) bm[pfn >>> 3] = (bm[pfn >>> 3] ?? 0) | (1 << (pfn & 7));
    return bm;
  }
  peek(domid: number): Uint8Array | null {
    return this.bitmap(domid);
  }
  clean(domid: number): Uint8Array | null {
    const bm = this.bitmap(domid);
    this.maps.get(domid)?.clear();
    this.faults.set(domid, 0);
    return bm;
  }
  stats(domid: number): ShadowOpStats | null {
    const s = this.maps.get(domid);
    return s === undefined ? null : { faultCount: this.faults.get(domid) ?? 0, dirtyCount: s.size };
  }
}

/** Identity paging over frames 0..31: everything writable except frame 31; frames past 32 fault. */
const flatWalker: PvWalkerPort = {
  walk(req: PvWalkRequest): void {
    const frame = Math.floor(req.linear / 4096);
    req.frame = frame * 4096;
    req.userOk = true;
    req.noExec = false;
    req.writable = frame !== 31;
    req.fault = frame >= 32 || (req.access === 1 && frame === 31) ? 0x3 : -1;
  },
};

class Cpu implements LogDirtyCpuPort {
  walker: PvWalkerPort = flatWalker;
  flushes = 0;
  flushTlb(): void {
    this.flushes++;
  }
  access(linear: number, write: boolean): number {
    const req: PvWalkRequest = {
      linear,
      access: write ? 1 : 0,
      user: false,
      cr0: 0,
      cr3: 0,
      cr4: 0,
      efer: 0,
      frame: 0,
      userOk: false,
      writable: false,
      noExec: false,
      fault: -1,
    };
    this.walker.walk(req);
    return req.fault;
  }
}

function setup() {
  const { grants, mem } = grantHost();
  const log = new FlatDirtyLog();
  const cpu = new Cpu();
  const control = new LogDirtyControl({
    log,
    grants,
    domains: {
      pages: (domid) => (domid === 1 || domid === 2 ? 32 : -1),
      cpus: (domid) => (domid === 1 ? [cpu] : []),
      foreignWritable: (domid) => (domid === 1 ? [3] : []),
      pfnOf: (domid, mfn) => (domid === 1 && mfn < 32 ? mfn : -1),
    },
  });
  const op = (o: number, domid = 1, caller = 0) => control.shadowOp(caller, { op: o, domid });
  return { grants, mem, log, cpu, control, op };
}

describe('XEN_DOMCTL_shadow_op log-dirty', () => {
  it('refuses unprivileged callers, unknown domains, the caller itself and bad ops with Xen errnos', () => {
    const { op, control } = setup();
    expect(op(XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, 1, 2).status).toBe(-XEN_EPERM);
    expect(op(XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, 9).status).toBe(-XEN_ESRCH);
    expect(op(XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, 0).status).toBe(-XEN_ESRCH);
    expect(control.shadowOp(2, { op: XEN_DOMCTL_SHADOW_OP_CLEAN, domid: 2 }).status).toBe(
      -XEN_EPERM,
    );
    expect(op(XEN_DOMCTL_SHADOW_OP_PEEK).status).toBe(-XEN_EINVAL); // not logging
    expect(op(XEN_DOMCTL_SHADOW_OP_CLEAN).status).toBe(-XEN_EINVAL);
    expect(op(99).status).toBe(-XEN_EINVAL);
    expect(control.shadowOp(0, { op: XEN_DOMCTL_SHADOW_OP_ENABLE, domid: 1, mode: 0 }).status).toBe(
      -XEN_EINVAL,
    );
    expect(
      control.shadowOp(0, {
        op: XEN_DOMCTL_SHADOW_OP_ENABLE,
        domid: 1,
        mode: XEN_DOMCTL_SHADOW_ENABLE_LOG_DIRTY,
      }).status,
    ).toBe(0);
    expect(op(XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY).status).toBe(-XEN_EINVAL); // already on
    expect(op(XEN_DOMCTL_SHADOW_OP_OFF).status).toBe(0);
    expect(op(XEN_DOMCTL_SHADOW_OP_OFF).status).toBe(0);
  });

  it('tears the log of a dying domain down without checks, unwrapping its walkers', () => {
    const { op, cpu, control, log } = setup();
    expect(op(XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY).status).toBe(0);
    expect(cpu.walker).toBeInstanceOf(LogDirtyWalker);
    control.teardown(1);
    expect(log.enabled(1)).toBe(false);
    expect(cpu.walker).toBe(flatWalker);
    expect(control.getState()).toEqual({ domains: [] });
    control.teardown(1); // nothing left: no-op
    expect(op(XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY).status).toBe(0);
  });

  it('reports exactly the frames written by the guest since the last CLEAN (plus dom0 ring pages)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ linear: fc.integer({ min: 0, max: 40 * 4096 }), write: fc.boolean() }),
            fc.constantFrom('clean' as const, 'peek' as const),
          ),
          { maxLength: 60 },
        ),
        (steps) => {
          const { op, cpu, control } = setup();
          expect(op(XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY).status).toBe(0);
          expect(cpu.walker).toBeInstanceOf(LogDirtyWalker);
          let flushes = cpu.flushes;
          expect(flushes).toBe(1);
          let expected = new Set<number>([3]);
          for (const s of steps) {
            if (s === 'peek' || s === 'clean') {
              const r = op(s === 'peek' ? XEN_DOMCTL_SHADOW_OP_PEEK : XEN_DOMCTL_SHADOW_OP_CLEAN);
              expect(r.status).toBe(0);
              expect(r.pages).toBe(32);
              expect(r.dirty).toEqual([...expected].sort((a, b) => a - b));
              if (s === 'clean') {
                expected = new Set([3]);
                // The next write to every page misses the TLB and walks again.
                expect(cpu.flushes).toBe(++flushes);
              }
              continue;
            }
            const fault = cpu.access(s.linear, s.write);
            if (s.write && fault < 0) expected.add(Math.floor(s.linear / 4096));
          }
          expect(JSON.parse(JSON.stringify(control.getState()))).toEqual({
            domains: [
              {
                domid: 1,
                pages: 32,
                dirty: [...expected].sort((a, b) => a - b),
                stats: expect.any(Object),
              },
            ],
          });
          expect(op(XEN_DOMCTL_SHADOW_OP_OFF).status).toBe(0);
          expect(cpu.walker).toBe(flatWalker);
        },
      ),
    );
  });

  it('reports a writable grant mapping while it is mapped and once more after it is unmapped', () => {
    const { grants, mem, op } = setup();
    writeGrant(mem(1), 8, 0, 12, GTF_permit_access);
    writeGrant(mem(1), 9, 0, 13, GTF_permit_access);
    expect(op(XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY).status).toBe(0);
    const rw = grants.mapGrantRef(0, { hostAddr: 0x4000, flags: GNTMAP_host_map, ref: 8, dom: 1 });
    const ro = grants.mapGrantRef(0, {
      hostAddr: 0x5000,
      flags: GNTMAP_host_map | GNTMAP_readonly,
      ref: 9,
      dom: 1,
    });
    expect([rw.status, ro.status]).toEqual([GNTST_okay, GNTST_okay]);
    expect(op(XEN_DOMCTL_SHADOW_OP_CLEAN).dirty).toEqual([3, 12]);
    expect(op(XEN_DOMCTL_SHADOW_OP_CLEAN).dirty).toEqual([3, 12]); // still mapped: still dirty
    expect(grants.unmapGrantRef(0, { hostAddr: 0x4000, devBusAddr: 0, handle: rw.handle })).toBe(
      GNTST_okay,
    );
    expect(grants.unmapGrantRef(0, { hostAddr: 0x5000, devBusAddr: 0, handle: ro.handle })).toBe(
      GNTST_okay,
    );
    expect(op(XEN_DOMCTL_SHADOW_OP_CLEAN).dirty).toEqual([3, 12]); // marked at unmap
    expect(op(XEN_DOMCTL_SHADOW_OP_CLEAN).dirty).toEqual([3]);
  });
});
