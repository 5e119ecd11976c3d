import { describe, expect, it } from 'vitest';
import {
  DOMID_SELF,
  EVTCHNOP_alloc_unbound,
  EVTCHNOP_bind_interdomain,
  EVTCHNOP_bind_ipi,
  EVTCHNOP_bind_pirq,
  EVTCHNOP_bind_virq,
  EVTCHNOP_init_control,
  EVTCHNOP_send,
  EVTCHNOP_status,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_virq,
  eventChannelOp,
  eventChannelOpCompat,
  GNTCOPY_source_gref,
  GNTMAP_host_map,
  GNTST_bad_virt_addr,
  GNTST_general_error,
  GNTST_okay,
  GNTTABOP_copy,
  GNTTABOP_get_status_frames,
  GNTTABOP_get_version,
  GNTTABOP_map_grant_ref,
  GNTTABOP_query_size,
  GNTTABOP_set_version,
  GNTTABOP_setup_table,
  GNTTABOP_swap_grant_ref,
  GNTTABOP_transfer,
  GNTTABOP_unmap_grant_ref,
  GTF_permit_access,
  GTF_reading,
  type GuestAbi,
  grantTableOp,
  type HypercallContext,
  VIRQ_TIMER,
  XEN_EFAULT,
  XEN_EINVAL,
  XEN_ENOSYS,
  XEN_EPERM,
} from '../src/index.ts';
import { evtchnHost, grantFlags, grantHost, pending, writeGrant } from './helpers.ts';

const ARG = 8 * 4096;

function ctxOf(domid: number, abi: GuestAbi, guest: HypercallContext['guest']): HypercallContext {
  return { domid, vcpu: 0, abi, guest };
}

describe('event_channel_op', () => {
  it('copies arguments in and OUT ports back at the ABI offsets', () => {
    const { evtchn, dom } = evtchnHost([{ domid: 0 }, { domid: 1 }]);
    const m1 = dom(1).mem;
    const v1 = new DataView(m1.bytes.buffer, ARG, 64);
    const c1 = ctxOf(1, 'x86_64', m1);
    v1.setUint16(0, DOMID_SELF, true);
    v1.setUint16(2, 0, true);
    expect(eventChannelOp(evtchn, c1, EVTCHNOP_alloc_unbound, ARG)).toBe(0);
    expect(v1.getUint32(4, true)).toBe(1);

    const m0 = dom(0).mem;
    const v0 = new DataView(m0.bytes.buffer, ARG, 64);
    const c0 = ctxOf(0, 'x86_64', m0);
    v0.setUint16(0, 1, true);
    v0.setUint32(4, 1, true);
    expect(eventChannelOp(evtchn, c0, EVTCHNOP_bind_interdomain, ARG)).toBe(0);
    const local = v0.getUint32(8, true);
    expect(local).toBe(1);

    v0.setUint32(0, local, true);
    expect(eventChannelOp(evtchn, c0, EVTCHNOP_send, ARG)).toBe(0);
    expect(pending(dom(1), 1)).toBe(true);

    v1.setUint16(0, DOMID_SELF, true);
    v1.setUint32(4, 1, true);
    expect(eventChannelOp(evtchn, c1, EVTCHNOP_status, ARG)).toBe(0);
    expect(v1.getUint32(8, true)).toBe(EVTCHNSTAT_interdomain);
    expect(v1.getUint16(16, true)).toBe(0);
    expect(v1.getUint32(20, true)).toBe(local);

    v1.setUint32(0, VIRQ_TIMER, true);
    v1.setUint32(4, 1, true);
    expect(eventChannelOp(evtchn, c1, EVTCHNOP_bind_virq, ARG)).toBe(0);
    const timer = v1.getUint32(8, true);
    v1.setUint16(0, DOMID_SELF, true);
    v1.setUint32(4, timer, true);
    expect(eventChannelOp(evtchn, c1, EVTCHNOP_status, ARG)).toBe(0);
    expect([v1.getUint32(8, true), v1.getUint32(12, true), v1.getUint32(16, true)]).toEqual([
      EVTCHNSTAT_virq,
      1,
      VIRQ_TIMER,
    ]);
  });

  it('returns -EFAULT for unreadable or unwritable arguments and -ENOSYS for unknown or FIFO commands', () => {
    const { evtchn, dom } = evtchnHost([{ domid: 1 }]);
    const mem = dom(1).mem;
    const c = ctxOf(1, 'x86_64', mem);
    expect(eventChannelOp(evtchn, c, EVTCHNOP_bind_ipi, 16 * 4096)).toBe(-XEN_EFAULT);
    expect(eventChannelOp(evtchn, c, EVTCHNOP_bind_ipi, -4)).toBe(-XEN_EFAULT);
    expect(eventChannelOp(evtchn, c, EVTCHNOP_bind_ipi, 1.5)).toBe(-XEN_EFAULT);
    expect(eventChannelOp(evtchn, c, EVTCHNOP_bind_ipi, 2 ** 64)).toBe(-XEN_EFAULT);
    expect(eventChannelOp(evtchn, c, EVTCHNOP_bind_ipi, 16 * 4096 - 4)).toBe(-XEN_EFAULT);
    mem.removeFrame(9);
    // The struct straddles into a missing frame: nothing is allocated... by the copy-in failing.
    expect(eventChannelOp(evtchn, c, EVTCHNOP_bind_ipi, 9 * 4096 - 4)).toBe(-XEN_EFAULT);
    expect(eventChannelOp(evtchn, c, EVTCHNOP_init_control, ARG)).toBe(-XEN_ENOSYS);
    expect(eventChannelOp(evtchn, c, 99, ARG)).toBe(-XEN_ENOSYS);
    expect(eventChannelOp(evtchn, c, EVTCHNOP_bind_pirq, ARG)).toBe(-XEN_EPERM);
  });

  it('runs the legacy event_channel_op_compat with the union after the command word', () => {
    const { evtchn, dom } = evtchnHost([{ domid: 1 }]);
    const mem = dom(1).mem;
    const v = new DataView(mem.bytes.buffer, ARG, 64);
    v.setUint32(0, EVTCHNOP_bind_ipi, true);
    v.setUint32(4, 1, true);
    expect(eventChannelOpCompat(evtchn, ctxOf(1, 'x86_32', mem), ARG)).toBe(0);
    expect(v.getUint32(8, true)).toBe(1);
    expect(eventChannelOpCompat(evtchn, ctxOf(1, 'x86_32', mem), 16 * 4096 - 8)).toBe(-XEN_EFAULT);
  });
});

describe('grant_table_op', () => {
  for (const abi of ['x86_32', 'x86_64'] as const) {
    it(`returns grant frames in setup_table as ${abi === 'x86_32' ? '32' : '64'}-bit xen_pfn_t`, () => {
      const { grants, mem } = grantHost();
      const m = mem(1);
      const v = new DataView(m.bytes.buffer, ARG, 512);
      const pfn = abi === 'x86_32' ? 4 : 8;
      v.setUint16(0, DOMID_SELF, true);
      v.setUint32(4, 2, true);
      if (abi === 'x86_32') v.setUint32(12, ARG + 256, true);
      else v.setBigUint64(16, BigInt(ARG + 256), true);
      expect(grantTableOp(grants, ctxOf(1, abi, m), GNTTABOP_setup_table, ARG, 1)).toBe(0);
      expect(v.getInt16(8, true)).toBe(GNTST_okay);
      expect(v.getUint32(256, true)).toBe(30);
      expect(v.getUint32(256 + pfn, true)).toBe(31);
      // query_size now reports two frames.
      v.setUint16(0, DOMID_SELF, true);
      expect(grantTableOp(grants, ctxOf(1, abi, m), GNTTABOP_query_size, ARG, 1)).toBe(0);
      expect([v.getUint32(4, true), v.getUint32(8, true), v.getInt16(12, true)]).toEqual([
        2,
        2,
        GNTST_okay,
      ]);
    });

    it(`maps, copies and unmaps through the ${abi} struct layouts`, () => {
      const { grants, mem } = grantHost();
      writeGrant(mem(1), 8, 0, 5, GTF_permit_access);
      mem(1).bytes.set([1, 2, 3], 5 * 4096 + 10);
      const m0 = mem(0);
      const c0 = ctxOf(0, abi, m0);
      const v = new DataView(m0.bytes.buffer, ARG, 128);
      // Two map_grant_ref elements: one good, one bad ref.
      for (const [i, ref] of [
        [0, 8],
        [1, 4000],
      ] as const) {
        v.setBigUint64(i * 32, 0x10000n, true);
        v.setUint32(i * 32 + 8, GNTMAP_host_map, true);
        v.setUint32(i * 32 + 12, ref, true);
        v.setUint16(i * 32 + 16, 1, true);
      }
      expect(grantTableOp(grants, c0, GNTTABOP_map_grant_ref, ARG, 2)).toBe(0);
      expect(v.getInt16(18, true)).toBe(GNTST_okay);
      expect(v.getInt16(32 + 18, true)).toBe(-3);
      const handle = v.getUint32(20, true);
      expect(grantFlags(mem(1), 8) & GTF_reading).toBe(GTF_reading);

      const cs = abi === 'x86_32' ? 24 : 40;
      const o =
        abi === 'x86_32'
          ? { su: 0, sd: 4, so: 6, du: 8, dd: 12, do: 14, len: 16, fl: 18, st: 20 }
          : { su: 0, sd: 8, so: 10, du: 16, dd: 24, do: 26, len: 32, fl: 34, st: 36 };
      new Uint8Array(m0.bytes.buffer, ARG, cs).fill(0);
      v.setUint32(o.su, 8, true);
      v.setUint16(o.sd, 1, true);
      v.setUint16(o.so, 10, true);
      v.setUint32(o.du, 3, true);
      v.setUint16(o.dd, DOMID_SELF, true);
      v.setUint16(o.do, 7, true);
      v.setUint16(o.len, 3, true);
      v.setUint16(o.fl, GNTCOPY_source_gref, true);
      expect(grantTableOp(grants, c0, GNTTABOP_copy, ARG, 1)).toBe(0);
      expect(v.getInt16(o.st, true)).toBe(GNTST_okay);
      expect([...m0.bytes.subarray(3 * 4096 + 7, 3 * 4096 + 10)]).toEqual([1, 2, 3]);

      v.setBigUint64(0, 0x10000n, true);
      v.setBigUint64(8, 0n, true);
      v.setUint32(16, handle, true);
      expect(grantTableOp(grants, c0, GNTTABOP_unmap_grant_ref, ARG, 1)).toBe(0);
      expect(v.getInt16(20, true)).toBe(GNTST_okay);
      expect(grantFlags(mem(1), 8)).toBe(GTF_permit_access);
    });
  }

  it("applies Xen's count, command and version rules", () => {
    const { grants, mem } = grantHost();
    const m = mem(1);
    const c = ctxOf(1, 'x86_64', m);
    const v = new DataView(m.bytes.buffer, ARG, 64);
    expect(grantTableOp(grants, c, GNTTABOP_map_grant_ref, ARG, 0x80000000)).toBe(-XEN_EINVAL);
    expect(grantTableOp(grants, c, GNTTABOP_map_grant_ref, ARG, -1)).toBe(-XEN_EINVAL);
    expect(grantTableOp(grants, c, GNTTABOP_map_grant_ref | (1 << 12), ARG, 1)).toBe(-XEN_EINVAL);
    expect(grantTableOp(grants, c, GNTTABOP_setup_table, ARG, 2)).toBe(-XEN_EINVAL);
    expect(grantTableOp(grants, c, GNTTABOP_transfer, ARG, 1)).toBe(-XEN_ENOSYS);
    expect(grantTableOp(grants, c, GNTTABOP_transfer, ARG, 0)).toBe(0);
    // swap_grant_ref: two elements, the second with a bad ref.
    v.setUint32(0, 8, true);
    v.setUint32(4, 9, true);
    v.setUint32(12, 8, true);
    v.setUint32(16, 4096, true);
    expect(grantTableOp(grants, c, GNTTABOP_swap_grant_ref, ARG, 2)).toBe(0);
    expect([v.getInt16(8, true), v.getInt16(20, true)]).toEqual([0, -3]);
    expect(grantTableOp(grants, c, 200, ARG, 1)).toBe(-XEN_ENOSYS);
    expect(grantTableOp(grants, c, GNTTABOP_map_grant_ref, ARG, 0)).toBe(0);
    v.setUint32(0, 2, true);
    expect(grantTableOp(grants, c, GNTTABOP_set_version, ARG, 1)).toBe(-XEN_ENOSYS);
    expect(v.getUint32(0, true)).toBe(1);
    v.setUint32(0, 1, true);
    expect(grantTableOp(grants, c, GNTTABOP_set_version, ARG, 1)).toBe(0);
    v.setUint16(0, DOMID_SELF, true);
    expect(grantTableOp(grants, c, GNTTABOP_get_version, ARG, 1)).toBe(0);
    expect(v.getUint32(4, true)).toBe(1);
    expect(grantTableOp(grants, c, GNTTABOP_get_status_frames, ARG, 1)).toBe(0);
    expect(v.getInt16(6, true)).toBe(GNTST_general_error);
  });

  it('returns -EFAULT for bad pointers and reports unwritable frame lists as GNTST_bad_virt_addr', () => {
    const { grants, mem } = grantHost();
    const m = mem(1);
    const c = ctxOf(1, 'x86_64', m);
    expect(grantTableOp(grants, c, GNTTABOP_map_grant_ref, 32 * 4096 - 16, 1)).toBe(-XEN_EFAULT);
    expect(grantTableOp(grants, c, GNTTABOP_copy, ARG, 1_000_000)).toBe(-XEN_EFAULT);
    expect(grantTableOp(grants, c, GNTTABOP_query_size, -1, 1)).toBe(-XEN_EFAULT);
    const v = new DataView(m.bytes.buffer, ARG, 64);
    v.setUint16(0, DOMID_SELF, true);
    v.setUint32(4, 1, true);
    v.setBigUint64(16, 0xffff_0000_0000n, true);
    expect(grantTableOp(grants, c, GNTTABOP_setup_table, ARG, 1)).toBe(0);
    expect(v.getInt16(8, true)).toBe(GNTST_bad_virt_addr);
  });
});
