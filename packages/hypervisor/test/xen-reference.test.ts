/**
 * Runs the hypercall sequence of xen-reference/guest.c against Typevisor and compares each
 * result with the golden output the same guest printed under the real Xen 4.17 (Debian bookworm
 * xen-hypervisor-4.17-amd64 4.17.7, recorded with shared/tools/xen-reference; see
 * xen-reference/README.md). The scenario mirrors what the toolstack sets up for a PV domU:
 * dom0 has bound the domU's xenstore (port 1) and console (port 2) channels.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  EventChannels,
  eventChannelOp,
  GrantTables,
  grantTableOp,
  type HypercallContext,
  PAGE_SIZE,
  PagedGuestMemory,
} from '../src/index.ts';

const SELF = 0x7ff0;
const ARG = 20 * PAGE_SIZE;
const PAGE_A = 10;
const PAGE_B = 11;
const GRANT_BASE = 100;
/** Keys whose values depend on the host rather than on the hypervisor's semantics. */
const ENVIRONMENT_KEYS = new Set(['status_console.u32', 'map_grant_frame', 'map_shared_info']);

function golden(): Map<string, number> {
  const text = readFileSync(new URL('./xen-reference/golden-x86_64.txt', import.meta.url), 'utf8');
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) (-?\d+)$/.exec(line);
    if (m?.[1] && m[2]) map.set(m[1], Number(m[2]));
  }
  return map;
}

function runScenario(maxGrantFrames: number): Map<string, number> {
  const results = new Map<string, number>();
  const out = (name: string, v: number | boolean) => results.set(name, Number(v));
  const mem0 = new PagedGuestMemory(64);
  const mem1 = new PagedGuestMemory(GRANT_BASE + maxGrantFrames);
  const evtchn = new EventChannels({ upcallPending: () => {} });
  evtchn.addDomain({
    domid: 0,
    privileged: true,
    abi: 'x86_64',
    vcpus: 1,
    memory: mem0,
    sharedInfoAddress: 0,
  });
  evtchn.addDomain({ domid: 1, abi: 'x86_64', vcpus: 1, memory: mem1, sharedInfoAddress: 0 });
  const grants = new GrantTables();
  grants.addDomain({ domid: 0, privileged: true, memory: mem0, grantFrames: [63] });
  const grantFrames = Array.from({ length: maxGrantFrames }, (_, i) => GRANT_BASE + i);
  grants.addDomain({ domid: 1, memory: mem1, grantFrames });
  // The toolstack: xenstore and console channels, allocated by dom0 in domU and bound by dom0.
  expect(evtchn.initSharedInfo(1)).toBe(true);
  const store = evtchn.allocUnbound(0, 1, 0);
  const consolePort = evtchn.allocUnbound(0, 1, 0);
  evtchn.bindInterdomain(0, 1, store);
  evtchn.bindInterdomain(0, 1, consolePort);

  const ctx: HypercallContext = { domid: 1, vcpu: 0, abi: 'x86_64', guest: mem1 };
  const v = new DataView(mem1.bytes.buffer, ARG, 256);
  const clear = () => new Uint8Array(mem1.bytes.buffer, ARG, 256).fill(0);
  const ev = (cmd: number) => eventChannelOp(evtchn, ctx, cmd, ARG);
  const gt = (cmd: number, count = 1) => grantTableOp(grants, ctx, cmd, ARG, count);

  out('store_evtchn', store);
  out('console_evtchn', consolePort);
  const allocUnbound = (name: string, dom: number, remote: number): number => {
    clear();
    v.setUint16(0, dom, true);
    v.setUint16(2, remote, true);
    out(name, ev(6));
    return v.getUint32(4, true);
  };
  const portOp = (name: string, cmd: number, port: number) => {
    clear();
    v.setUint32(0, port, true);
    out(name, ev(cmd));
  };
  const status = (name: string, dom: number, port: number) => {
    clear();
    v.setUint16(0, dom, true);
    v.setUint32(4, port, true);
    const rc = ev(5);
    out(name, rc);
    if (rc === 0) {
      out(`${name}.status`, v.getUint32(8, true));
      out(`${name}.vcpu`, v.getUint32(12, true));
      out(`${name}.u16`, v.getUint16(16, true));
      out(`${name}.u32`, v.getUint32(20, true));
    }
  };
  const twoWords = (name: string, cmd: number, a: number, b: number, outOffset = -1): number => {
    clear();
    v.setUint32(0, a, true);
    v.setUint32(4, b, true);
    out(name, ev(cmd));
    return outOffset >= 0 ? v.getUint32(outOffset, true) : 0;
  };

  const pSelf = allocUnbound('self_unbound', SELF, SELF);
  out('self_unbound.port', pSelf);
  clear();
  v.setUint16(0, SELF, true);
  v.setUint32(4, pSelf, true);
  ev(5);
  const me = v.getUint16(16, true);
  out('domid', me);
  const p1 = allocUnbound('alloc_for_dom0', SELF, 0);
  out('alloc_for_dom0.port', p1);
  allocUnbound('alloc_in_dom0', 0, SELF);
  allocUnbound('alloc_in_domid_xen', 0x7ff2, 0);
  allocUnbound('alloc_in_dom_300', 300, 0);

  clear();
  out('bind_ipi_v0', ev(7));
  const p2 = v.getUint32(4, true);
  out('bind_ipi_v0.port', p2);
  twoWords('bind_ipi_v1', 7, 1, 0);
  twoWords('bind_ipi_vmax', 7, 0xffffffff, 0);
  portOp('send_ipi', 4, p2);
  portOp('send_unbound', 4, p1);
  portOp('send_port0', 4, 0);
  portOp('send_port5000', 4, 5000);
  portOp('send_free', 4, 40);

  const pt = twoWords('bind_virq_timer', 1, 0, 0, 8);
  out('bind_virq_timer.port', pt);
  twoWords('bind_virq_timer_again', 1, 0, 0);
  twoWords('bind_virq_console_v1', 1, 2, 1);
  twoWords('bind_virq_timer_v1', 1, 0, 1);
  twoWords('bind_virq_24', 1, 24, 0);
  out('bind_virq_debug.port', twoWords('bind_virq_debug', 1, 1, 0, 8));
  portOp('send_virq', 4, pt);

  twoWords('bind_vcpu_ipi', 8, p2, 0);
  twoWords('bind_vcpu_unbound', 8, p1, 0);
  twoWords('bind_vcpu_unbound_v1', 8, p1, 1);
  twoWords('bind_vcpu_timer', 8, pt, 0);
  twoWords('bind_vcpu_5000', 8, 5000, 0);

  status('status_unbound', SELF, p1);
  status('status_ipi', SELF, p2);
  status('status_virq', SELF, pt);
  status('status_port0', SELF, 0);
  status('status_free', SELF, 40);
  status('status_5000', SELF, 5000);
  status('status_dom0', 0, 1);
  status('status_dom300', 300, 1);
  status('status_console', SELF, consolePort);

  portOp('close_port0', 3, 0);
  portOp('close_ipi', 3, p2);
  portOp('close_ipi_again', 3, p2);
  portOp('close_5000', 3, 5000);
  portOp('unmask_5000', 9, 5000);
  portOp('unmask_unbound', 9, p1);

  const bindInter = (name: string, dom: number, port: number): number => {
    clear();
    v.setUint16(0, dom, true);
    v.setUint32(4, port, true);
    out(name, ev(0));
    return v.getUint32(8, true);
  };
  bindInter('bind_inter_dom0_bad_port', 0, 0x7fffffff);
  bindInter('bind_inter_self_for_dom0', SELF, p1);
  bindInter('bind_inter_dom300', 300, 1);
  const pl = bindInter('bind_inter_loopback', SELF, pSelf);
  out('bind_inter_loopback.port', pl);
  status('status_loop_local', SELF, pl);
  status('status_loop_remote', SELF, pSelf);
  portOp('close_loop_local', 3, pl);
  status('status_loop_remote_after', SELF, pSelf);

  twoWords('bind_pirq_1', 2, 1, 0);
  clear();
  out('reset_dom0', ev(10));
  out('evtchn_cmd_99', ev(99));

  // Grant tables.
  clear();
  v.setUint32(0, 1, true);
  out('set_version_1', gt(8));
  out('set_version_1.version', v.getUint32(0, true));
  v.setUint32(0, 3, true);
  out('set_version_3', gt(8));
  out('set_version_3.version', v.getUint32(0, true));
  const getVersion = (name: string, dom: number) => {
    clear();
    v.setUint16(0, dom, true);
    v.setUint32(4, 77, true);
    const rc = gt(10);
    out(name, rc);
    return v.getUint32(4, true);
  };
  out('get_version.version', getVersion('get_version', SELF));
  getVersion('get_version_dom0', 0);
  getVersion('get_version_dom300', 300);
  const querySize = (name: string, dom: number) => {
    clear();
    v.setUint16(0, dom, true);
    out(name, gt(6));
    out(`${name}.status`, v.getInt16(12, true));
  };
  querySize('query_size', SELF);
  out('query_size.nr_frames', v.getUint32(4, true));
  out('query_size.max_nr_frames', v.getUint32(8, true));
  querySize('query_size_dom0', 0);
  querySize('query_size_dom300', 300);
  const FRAMES = ARG + 128;
  const setup = (name: string, dom: number, nr: number, count = 1) => {
    clear();
    v.setUint16(0, dom, true);
    v.setUint32(4, nr, true);
    v.setInt16(8, 99, true);
    v.setBigUint64(16, BigInt(FRAMES), true);
    out(name, gt(2, count));
    if (count === 1) out(`${name}.status`, v.getInt16(8, true));
    return v.getBigUint64(128, true);
  };
  const grantFrame = Number(setup('setup_table', SELF, 1));
  setup('setup_table_dom0', 0, 1);
  setup('setup_table_dom300', 300, 1);
  setup('setup_table_huge', SELF, 100000);
  setup('setup_table_count2', SELF, 100000, 2);
  out('map_grant_frame', 0);

  const g = new DataView(mem1.bytes.buffer, grantFrame * PAGE_SIZE, PAGE_SIZE);
  const writeGrant = (ref: number, domid: number, frame: number, flags: number) => {
    g.setUint16(ref * 8 + 2, domid, true);
    g.setUint32(ref * 8 + 4, frame, true);
    g.setUint16(ref * 8, flags, true);
  };
  const pageA = mem1.bytes.subarray(PAGE_A * PAGE_SIZE, (PAGE_A + 1) * PAGE_SIZE);
  const pageB = mem1.bytes.subarray(PAGE_B * PAGE_SIZE, (PAGE_B + 1) * PAGE_SIZE);
  for (let i = 0; i < 16; i++) pageA[i] = 0x40 + i;
  writeGrant(8, me, PAGE_A, 1);
  writeGrant(9, me, PAGE_B, 1 | 4);
  writeGrant(10, 0, PAGE_A, 1);
  writeGrant(11, me, 0x0fffffff, 1);
  writeGrant(12, me, PAGE_A, 2);

  const copy = (
    name: string,
    su: number,
    sd: number,
    so: number,
    du: number,
    dd: number,
    dof: number,
    len: number,
    flags: number,
  ) => {
    clear();
    v.setBigUint64(0, BigInt(su), true);
    v.setUint16(8, sd, true);
    v.setUint16(10, so, true);
    v.setBigUint64(16, BigInt(du), true);
    v.setUint16(24, dd, true);
    v.setUint16(26, dof, true);
    v.setUint16(32, len, true);
    v.setUint16(34, flags, true);
    v.setInt16(36, 99, true);
    out(name, gt(5));
    out(`${name}.status`, v.getInt16(36, true));
  };
  copy('copy_gmfn_self', PAGE_A, SELF, 0, PAGE_B, SELF, 0, 16, 0);
  out('copy_gmfn_self.data_ok', pageB[15] === 0x4f);
  copy('copy_gref_src', 8, SELF, 2, PAGE_B, SELF, 100, 8, 1);
  out('copy_gref_src.data_ok', pageB[100] === 0x42 && pageB[107] === 0x49);
  out('copy_gref_src.flags_after', g.getUint16(8 * 8, true));
  copy('copy_gref_src_by_domid', 8, me, 0, PAGE_B, SELF, 0, 1, 1);
  copy('copy_gref_ro_dest', PAGE_A, SELF, 0, 9, SELF, 0, 4, 2);
  out('copy_gref_ro_dest.flags_after', g.getUint16(9 * 8, true));
  copy('copy_gref_ro_src', 9, SELF, 0, PAGE_A, SELF, 2048, 4, 1);
  copy('copy_gref_other_grantee', 10, SELF, 0, PAGE_B, SELF, 0, 4, 1);
  copy('copy_gref_bad_frame', 11, SELF, 0, PAGE_B, SELF, 0, 4, 1);
  out('copy_gref_bad_frame.flags_after', g.getUint16(11 * 8, true));
  copy('copy_gref_transfer_type', 12, SELF, 0, PAGE_B, SELF, 0, 4, 1);
  copy('copy_gref_both', 8, SELF, 0, 8, SELF, 64, 4, 3);
  copy('copy_gref_bad_ref', 100000, SELF, 0, PAGE_B, SELF, 0, 4, 1);
  copy('copy_cross_page_src', PAGE_A, SELF, 4090, PAGE_B, SELF, 0, 16, 0);
  copy('copy_cross_page_dst', PAGE_A, SELF, 0, PAGE_B, SELF, 4095, 2, 0);
  copy('copy_len_4096', PAGE_A, SELF, 0, PAGE_B, SELF, 0, 4096, 0);
  copy('copy_gmfn_dom0', PAGE_A, 0, 0, PAGE_B, SELF, 0, 4, 0);
  copy('copy_gmfn_dest_dom0', PAGE_A, SELF, 0, PAGE_B, 0, 0, 4, 0);
  copy('copy_gmfn_bad', 0x0fffffff, SELF, 0, PAGE_B, SELF, 0, 4, 0);
  copy('copy_gref_dom300', 8, 300, 0, PAGE_B, SELF, 0, 4, 1);
  copy('copy_gref_dom0_ref8', 8, 0, 0, PAGE_B, SELF, 0, 4, 1);

  const map = (name: string, flags: number, ref: number, dom: number) => {
    clear();
    v.setUint32(8, flags, true);
    v.setUint32(12, ref, true);
    v.setUint16(16, dom, true);
    v.setInt16(18, 99, true);
    out(name, gt(0));
    out(`${name}.status`, v.getInt16(18, true));
  };
  map('map_flags0', 0, 8, me);
  map('map_dom300', 2, 8, 300);
  map('map_dom0_bad_ref', 2, 0x7fffffff, 0);
  map('map_self_domid_self', 2, 8, SELF);
  const unmap = (name: string, handle: number) => {
    clear();
    v.setUint32(16, handle, true);
    v.setInt16(20, 99, true);
    out(name, gt(1));
    out(`${name}.status`, v.getInt16(20, true));
  };
  unmap('unmap_bad_handle', 12345);
  unmap('unmap_handle_max', 0xffffffff);
  clear();
  v.setUint32(0, 8, true);
  v.setUint32(4, 9, true);
  v.setInt16(8, 99, true);
  v.setUint32(12, 8, true);
  v.setUint32(16, 100000, true);
  v.setInt16(20, 99, true);
  out('swap_two', gt(11, 2));
  out('swap_two.status0', v.getInt16(8, true));
  out('swap_two.status1', v.getInt16(20, true));
  out('swap_two.flags8', g.getUint16(8 * 8, true));
  out('swap_two.flags9', g.getUint16(9 * 8, true));
  v.setUint32(0, 9, true);
  v.setUint32(4, 9, true);
  v.setInt16(8, 99, true);
  out('swap_same', gt(11));
  out('swap_same.status', v.getInt16(8, true));
  v.setUint32(0, 8, true);
  out('swap_back', gt(11));
  out('swap_back.status', v.getInt16(8, true));
  clear();
  v.setUint16(0, SELF, true);
  v.setInt16(2, 99, true);
  out('dump_table', gt(3));
  out('dump_table.status', v.getInt16(2, true));
  clear();
  v.setUint32(0, 1, true);
  v.setUint16(4, SELF, true);
  v.setInt16(6, 99, true);
  v.setBigUint64(8, BigInt(FRAMES), true);
  out('get_status_frames', gt(9));
  out('get_status_frames.status', v.getInt16(6, true));
  out('unmap_and_replace_count0', gt(7, 0));
  out('cache_flush_count0', gt(12, 0));
  clear();
  out('gnttab_count_neg', gt(0, 2 ** 64 - 1));
  out('gnttab_count_2g', gt(0, 0x80000000));
  out('gnttab_count0', gt(0, 0));
  out('gnttab_continuation_bits', gt(1 << 12));
  out('gnttab_cmd_99', gt(99));
  out('gnttab_transfer', gt(4, 0));
  out('gnttab_bad_ptr', grantTableOp(grants, ctx, 6, 0x10, 1));
  out('evtchn_bad_ptr', eventChannelOp(evtchn, ctx, 7, 0x10));

  // 2-level delivery as seen in shared_info (frame 0 of the domU here; a Xen heap page there).
  out('map_shared_info', 0);
  const sh = mem1.bytes;
  const PEND = 2048;
  const MASK = 2560;
  const SEL = 8;
  const bitOf = (base: number, p: number) => ((sh[base + (p >> 3)] ?? 0) >> (p & 7)) & 1;
  const setBitOf = (base: number, p: number, on: boolean) => {
    const i = base + (p >> 3);
    sh[i] = on ? (sh[i] ?? 0) | (1 << (p & 7)) : (sh[i] ?? 0) & ~(1 << (p & 7));
  };
  const clearSelAndUpcall = () => {
    sh.fill(0, SEL, SEL + 8);
    sh[0] = 0;
  };
  out('upcall_mask_at_boot', sh[1] ?? -1);
  sh.fill(0xff, MASK, MASK + 8);
  clearSelAndUpcall();
  let pb = 0;
  while (pb < 64) {
    clear();
    if (ev(7) !== 0) break;
    pb = v.getUint32(4, true);
  }
  out('deliver.port', pb);
  const w = pb >> 6;
  setBitOf(PEND, pb, false);
  portOp('deliver.send', 4, pb);
  out('deliver.pending', bitOf(PEND, pb));
  out('deliver.sel', bitOf(SEL, w));
  out('deliver.upcall', sh[0] ?? -1);
  portOp('deliver.send_again', 4, pb);
  out('deliver.upcall_again', sh[0] ?? -1);
  setBitOf(PEND, pb, false);
  clearSelAndUpcall();
  setBitOf(MASK, pb, true);
  portOp('masked.send', 4, pb);
  out('masked.pending', bitOf(PEND, pb));
  out('masked.sel', bitOf(SEL, w));
  out('masked.upcall', sh[0] ?? -1);
  portOp('masked.unmask', 9, pb);
  out('masked.mask_after', bitOf(MASK, pb));
  out('masked.sel_after', bitOf(SEL, w));
  out('masked.upcall_after', sh[0] ?? -1);
  clearSelAndUpcall();
  setBitOf(MASK, pb, true);
  portOp('masked.unmask_still_pending', 9, pb);
  out('masked.upcall_redelivered', sh[0] ?? -1);
  portOp('close.pending_port', 3, pb);
  out('close.pending_after', bitOf(PEND, pb));
  out('close.mask_after', bitOf(MASK, pb));
  setBitOf(MASK, pb, false);
  clearSelAndUpcall();
  const q = allocUnbound('loop2.alloc', SELF, SELF);
  out('loop2.alloc.port', q);
  const l = bindInter('loop2.bind', SELF, q);
  out('loop2.bind.port', l);
  out('loop2.local_pending', bitOf(PEND, l));
  out('loop2.remote_pending', bitOf(PEND, q));
  out('loop2.upcall', sh[0] ?? -1);
  setBitOf(PEND, l, false);
  clearSelAndUpcall();
  portOp('loop2.send_local', 4, l);
  out('loop2.remote_pending_after', bitOf(PEND, q));
  out('loop2.local_pending_after', bitOf(PEND, l));
  out('loop2.sel_after', new DataView(sh.buffer, SEL, 8).getUint32(0, true));
  return results;
}

describe('hypercall results compared with the real Xen 4.17', () => {
  it('match the golden output of the reference guest, result by result', () => {
    const expected = golden();
    expect(expected.size).toBeGreaterThan(150);
    const actual = runScenario(expected.get('query_size.max_nr_frames') ?? 64);
    const mismatches: string[] = [];
    for (const [key, want] of expected) {
      if (ENVIRONMENT_KEYS.has(key)) continue;
      const got = actual.get(key);
      if (got !== want) mismatches.push(`${key}: Xen ${want}, Typevisor ${got}`);
    }
    const missing = [...actual.keys()].filter((k) => !expected.has(k));
    expect(missing).toEqual([]);
    expect(mismatches).toEqual([]);
  });
});
