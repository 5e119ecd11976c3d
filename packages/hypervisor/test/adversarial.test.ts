import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DOMID_SELF,
  EventChannels,
  eventChannelOp,
  GNTMAP_host_map,
  GNTMAP_readonly,
  GTF_permit_access,
  GTF_readonly,
  type GuestAbi,
  grantTableOp,
  type HypercallContext,
  PAGE_SIZE,
  XEN_EEXIST,
  XEN_EFAULT,
  XEN_EINVAL,
  XEN_ENOENT,
  XEN_ENOSPC,
  XEN_ENOSYS,
  XEN_EPERM,
  XEN_ESRCH,
} from '../src/index.ts';
import { evtchnHost, GRANT_FRAMES, grantHost, writeGrant } from './helpers.ts';

const ARG = 8 * PAGE_SIZE;
const MEM_BYTES = 32 * PAGE_SIZE;

/** Pointers a hostile guest might pass: good, near the end, outside, unaligned, negative, huge. */
const pointer = fc.oneof(
  { weight: 6, arbitrary: fc.constant(ARG) },
  fc.integer({ min: 0, max: MEM_BYTES + 64 }),
  fc.constantFrom(
    -1,
    -4096,
    2 ** 32,
    2 ** 53,
    2 ** 64,
    0.5,
    Number.NaN,
    MEM_BYTES - 4,
    16 * PAGE_SIZE - 2,
  ),
);

/** Field values biased towards the interesting ones. */
const u32 = fc.oneof(
  fc.integer({ min: 0, max: 16 }),
  fc.constantFrom(
    0x7ff0,
    0x7ff2,
    0x7fff,
    0xffff,
    1023,
    1024,
    4095,
    4096,
    511,
    512,
    0x7fffffff,
    0xffffffff,
  ),
  fc.integer({ min: 0, max: 0xffffffff }),
);

const structBytes = fc.array(u32, { minLength: 10, maxLength: 10 });

/** Event-channel fields: mostly small (ports, vCPUs, VIRQs, dom0/domU ids), sometimes anything. */
const evtchnField = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 2, arbitrary: fc.integer({ min: 4, max: 8 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(0x7ff0, 0x7ff0, 0x7ff2, 0xffff, 63, 64, 1023, 1024, 4095, 4096),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);
const evtchnStruct = fc.array(evtchnField, { minLength: 10, maxLength: 10 });

function writeFields(bytes: Uint8Array, at: number, fields: number[]): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, 40);
  for (let i = 0; i < fields.length; i++) v.setUint32(i * 4, fields[i] ?? 0, true);
}

describe('hostile event_channel_op arguments', () => {
  const EVTCHN_CODES = new Set([
    0,
    -XEN_EINVAL,
    -XEN_ENOSPC,
    -XEN_EEXIST,
    -XEN_EPERM,
    -XEN_ESRCH,
    -XEN_ENOENT,
    -XEN_EFAULT,
    -XEN_ENOSYS,
  ]);

  it("never throw, return only Xen codes, and never touch a third domain's channels", () => {
    const succeeded = new Set<number>();
    fc.assert(
      fc.property(
        fc.constantFrom<GuestAbi>('x86_32', 'x86_64'),
        fc.array(
          fc.tuple(fc.integer({ min: -2, max: 16 }), pointer, evtchnStruct, fc.constantFrom(0, 1)),
          { maxLength: 60, size: 'medium' },
        ),
        (abi, ops) => {
          const { evtchn, dom, log } = evtchnHost([
            { domid: 0 },
            { domid: 1, abi, maxPorts: 64 },
            { domid: 2 },
          ]);
          // dom2 has ports that are not for dom1: one waiting for dom0, one IPI, one connected to dom0.
          evtchn.allocUnbound(2, DOMID_SELF, 0);
          evtchn.bindIpi(2, 1);
          const forDom0 = evtchn.allocUnbound(2, DOMID_SELF, 0);
          evtchn.bindInterdomain(0, 2, forDom0);
          const before = evtchn.getState().domains.find((d) => d.domid === 2);
          const mem1 = dom(1).mem;
          for (const [cmd, arg, fields, caller] of ops) {
            const callerId = caller === 0 ? 1 : 0;
            const mem = dom(callerId).mem;
            if (arg === ARG) writeFields(mem.bytes, ARG, fields);
            const ctx: HypercallContext = { domid: callerId, vcpu: 0, abi, guest: mem };
            const rc = eventChannelOp(evtchn, ctx, cmd, arg);
            expect(EVTCHN_CODES.has(rc)).toBe(true);
            if (rc === 0) succeeded.add(cmd);
          }
          // dom1 never changed dom2's channels (dom0 may have; only check when dom1 acted alone).
          if (ops.every(([, , , c]) => c === 0)) {
            const after = evtchn.getState().domains.find((d) => d.domid === 2);
            expect(after).toEqual(before);
          }
          // The port tables stay consistent: state round-trips (interdomain links are symmetric).
          const copy = EventChannels.fromState(JSON.parse(JSON.stringify(evtchn.getState())), {
            notifier: log,
            memoryOf: (d) => dom(d).mem,
          });
          expect(copy.getState()).toEqual(evtchn.getState());
          expect(mem1.nrFrames).toBe(16);
        },
      ),
      { numRuns: 200, seed: 0xe7c4 },
    );
    // Every event_channel_op command the guest may use succeeded at least once.
    expect([...succeeded].sort((a, b) => a - b)).toEqual([0, 1, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

/** Distinct 8-byte signature filling victim frame `f`. */
function signature(f: number): number[] {
  return [0xde, 0xad, f, 0xbe, 0xef, f ^ 0x5a, 0xc3, 0x3c];
}

function contains(hay: Uint8Array, needle: number[]): boolean {
  const first = needle[0];
  for (
    let i = hay.indexOf(first ?? 0);
    i >= 0 && i <= hay.length - needle.length;
    i = hay.indexOf(first ?? 0, i + 1)
  ) {
    let ok = true;
    for (let j = 1; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

/** A well-formed but hostile grant op, encoded at the caller's ABI layout. */
const domArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(2) },
  { weight: 3, arbitrary: fc.constant(DOMID_SELF) },
  { weight: 2, arbitrary: fc.constantFrom(0, 1, 3, 0x7ff2, 0xffff) },
);
const refArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 8, max: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 7, 13, 511, 512, 1023, 0xffffffff) },
);
const offArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 16 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4000, max: 0xffff }) },
);
const structuredOp = fc.oneof(
  fc.record({
    kind: fc.constant('map' as const),
    dom: domArb,
    ref: refArb,
    flags: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(2, 3, 6, 7, 1, 0, 0x12) },
      fc.integer({ min: 0, max: 0xffffffff }),
    ),
    hostAddr: fc.constantFrom(0x1000, 0x1000, 0x2000, 0),
  }),
  fc.record({
    kind: fc.constant('unmap' as const),
    handle: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 1 }) },
      fc.constantFrom(2, 6, 0xffffffff),
    ),
    hostAddr: fc.constantFrom(0x1000, 0x1000, 0x2000, 0),
    devBusAddr: fc.constantFrom(0, 7 * PAGE_SIZE, 6 * PAGE_SIZE),
  }),
  fc.record({
    kind: fc.constant('copy' as const),
    srcDom: domArb,
    srcRef: refArb,
    srcOff: offArb,
    dstDom: domArb,
    dstRef: refArb,
    dstOff: offArb,
    len: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 64 }) },
      fc.constantFrom(4096, 4097, 0xffff),
    ),
    flags: fc.constantFrom(1, 1, 1, 2, 2, 3, 0),
  }),
);
type StructuredOp = typeof structuredOp extends fc.Arbitrary<infer T> ? T : never;

/** Encodes `op` at ARG in `bytes` and returns [cmd, count]. */
function encode(bytes: Uint8Array, abi: GuestAbi, op: StructuredOp): [number, number] {
  const v = new DataView(bytes.buffer, bytes.byteOffset + ARG, 64);
  new Uint8Array(bytes.buffer, bytes.byteOffset + ARG, 64).fill(0);
  const wide = abi === 'x86_64';
  switch (op.kind) {
    case 'map':
      v.setBigUint64(0, BigInt(op.hostAddr), true);
      v.setUint32(8, op.flags, true);
      v.setUint32(12, op.ref, true);
      v.setUint16(16, op.dom, true);
      return [0, 1];
    case 'unmap':
      v.setBigUint64(0, BigInt(op.hostAddr), true);
      v.setBigUint64(8, BigInt(op.devBusAddr), true);
      v.setUint32(16, op.handle, true);
      return [1, 1];
    case 'copy': {
      const o = wide ? [0, 8, 10, 16, 24, 26, 32, 34] : [0, 4, 6, 8, 12, 14, 16, 18];
      const [su, sd, so, du, dd, dof, len, fl] = o as [
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      v.setUint32(su, op.srcRef, true);
      v.setUint16(sd, op.srcDom, true);
      v.setUint16(so, op.srcOff & 0xffff, true);
      v.setUint32(du, op.dstRef, true);
      v.setUint16(dd, op.dstDom, true);
      v.setUint16(dof, op.dstOff & 0xffff, true);
      v.setUint16(len, op.len, true);
      v.setUint16(fl, op.flags, true);
      return [5, 1];
    }
  }
}

describe('hostile grant_table_op arguments', () => {
  const GNTTAB_CODES = new Set([0, -XEN_EINVAL, -XEN_EFAULT, -XEN_ENOSYS, -XEN_ESRCH, -XEN_EPERM]);
  const RO_FRAME = 6;
  const RW_FRAME = 7;

  it('never throw, and a domain reaches only frames granted to it, writing only writable ones', () => {
    const successes = new Set<string>();
    const cmd = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 12 }) },
      fc.integer({ min: -1, max: 1 << 13 }),
    );
    const count = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 3 }) },
      fc.constantFrom(-1, 2 ** 31, 2 ** 32 + 1, 1e6),
    );
    fc.assert(
      fc.property(
        fc.constantFrom<GuestAbi>('x86_32', 'x86_64'),
        fc.array(
          fc.oneof(
            {
              weight: 1,
              arbitrary: fc.tuple(cmd, pointer, count, structBytes, structBytes, structBytes),
            },
            { weight: 3, arbitrary: structuredOp },
          ),
          { maxLength: 30 },
        ),
        (abi, ops) => {
          const { grants, mem } = grantHost([0, 1, 2]);
          const victim = mem(2);
          for (let f = 0; f < 30; f++) {
            const sig = signature(f);
            for (let o = 0; o < PAGE_SIZE; o++) victim.bytes[f * PAGE_SIZE + o] = sig[o & 7] ?? 0;
          }
          // Victim grants: ref 8 to dom0 (rw), ref 9 to dom1 read-only, ref 10 to dom1 writable,
          // ref 11 to dom1 for a frame it does not own, ref 12 to dom1 as accept_transfer.
          writeGrant(victim, 8, 0, 5, GTF_permit_access);
          writeGrant(victim, 9, 1, RO_FRAME, GTF_permit_access | GTF_readonly);
          writeGrant(victim, 10, 1, RW_FRAME, GTF_permit_access);
          writeGrant(victim, 11, 1, 99, GTF_permit_access);
          writeGrant(victim, 12, 1, 3, 2);
          const pristine = victim.bytes.slice();
          const attacker = mem(1);
          const ctx: HypercallContext = { domid: 1, vcpu: 0, abi, guest: attacker };
          for (const op of ops) {
            if (!Array.isArray(op)) {
              const [c, n] = encode(attacker.bytes, abi, op);
              const rc = grantTableOp(grants, ctx, c, ARG, n);
              expect(rc).toBe(0);
              const status = new DataView(attacker.bytes.buffer, ARG, 64).getInt16(
                op.kind === 'map' ? 18 : op.kind === 'unmap' ? 20 : abi === 'x86_64' ? 36 : 20,
                true,
              );
              expect(status).toBeGreaterThanOrEqual(-13);
              expect(status).toBeLessThanOrEqual(0);
              if (status === 0 && (op.kind !== 'unmap' || op.hostAddr !== 0))
                successes.add(op.kind);
              continue;
            }
            const [c, arg, n, a, b, d] = op;
            if (arg === ARG) {
              writeFields(attacker.bytes, ARG, a);
              writeFields(attacker.bytes, ARG + 40, b);
              writeFields(attacker.bytes, ARG + 80, d);
            }
            const rc = grantTableOp(grants, ctx, c, arg, n);
            expect(GNTTAB_CODES.has(rc)).toBe(true);
          }
          // Use every live mapping the attacker holds, as a native backend would.
          for (let h = 0; h < 4096; h++) {
            const m = grants.mapping(1, h);
            if (!m) continue;
            expect(m.granter === 2 ? [RO_FRAME, RW_FRAME] : [m.frame]).toContain(m.frame);
            m.write(0, new Uint8Array([0x11, 0x22]));
            if (m.granter === 2 && m.frame === RO_FRAME) expect(m.readonly).toBe(true);
          }
          // Victim frames other than the writable grant are unchanged (grant-table frames aside),
          // and grant entries keep domid and frame; only Xen's reading/writing bits may differ.
          const changed: string[] = [];
          for (let i = 0; i < 30 * PAGE_SIZE; i++) {
            if (victim.bytes[i] !== pristine[i] && i >>> 12 !== RW_FRAME) changed.push(`byte ${i}`);
          }
          for (const frame of GRANT_FRAMES) {
            for (let at = frame * PAGE_SIZE; at < (frame + 1) * PAGE_SIZE; at++) {
              const mask = (at & 7) === 0 ? 0x18 : 0;
              if (((victim.bytes[at] ?? 0) & ~mask) !== (pristine[at] ?? 0))
                changed.push(`grant byte ${at}`);
            }
          }
          expect(changed).toEqual([]);
          // Nothing from a frame not granted to the attacker ever reaches its memory.
          const leaked: number[] = [];
          for (let f = 0; f < 30; f++) {
            if (f !== RO_FRAME && f !== RW_FRAME && contains(attacker.bytes, signature(f)))
              leaked.push(f);
          }
          expect(leaked).toEqual([]);
        },
      ),
      // A fixed seed keeps the coverage check below deterministic.
      { numRuns: 150, seed: 0x5eed },
    );
    // The generator does reach the interesting paths.
    expect([...successes].sort()).toEqual(['copy', 'map', 'unmap']);
  });

  it('keep GTF_reading/GTF_writing exactly in step with live mappings', () => {
    const action = fc.oneof(
      fc.record({
        kind: fc.constant('map' as const),
        ref: fc.integer({ min: 8, max: 11 }),
        ro: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('unmap' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(action, { maxLength: 40 }), (actions) => {
        const { grants, mem } = grantHost([0, 1]);
        for (let ref = 8; ref < 12; ref++) writeGrant(mem(1), ref, 0, ref - 4, GTF_permit_access);
        const live: Array<{ handle: number; ref: number; ro: boolean; addr: number }> = [];
        let addr = 0x1000;
        for (const act of actions) {
          if (act.kind === 'map') {
            addr += 0x1000;
            const flags = GNTMAP_host_map | (act.ro ? GNTMAP_readonly : 0);
            const r = grants.mapGrantRef(0, { hostAddr: addr, flags, ref: act.ref, dom: 1 });
            expect(r.status).toBe(0);
            live.push({ handle: r.handle, ref: act.ref, ro: act.ro, addr });
          } else if (live.length > 0) {
            const [m] = live.splice(act.pick % live.length, 1);
            if (m)
              expect(
                grants.unmapGrantRef(0, { hostAddr: m.addr, devBusAddr: 0, handle: m.handle }),
              ).toBe(0);
          }
          for (let ref = 8; ref < 12; ref++) {
            const maps = live.filter((m) => m.ref === ref);
            const v = new DataView(mem(1).bytes.buffer, GRANT_FRAMES[0]! * PAGE_SIZE + ref * 8, 2);
            const flags = v.getUint16(0, true);
            expect((flags & 0x08) !== 0).toBe(maps.length > 0);
            expect((flags & 0x10) !== 0).toBe(maps.some((m) => !m.ro));
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
