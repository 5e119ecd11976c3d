import { describe, expect, it } from 'vitest';
import {
  DOMID_SELF,
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTMAP_device_map,
  GNTMAP_host_map,
  GNTMAP_readonly,
  GNTST_bad_copy_arg,
  GNTST_bad_dev_addr,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_bad_page,
  GNTST_eagain,
  GNTST_general_error,
  GNTST_no_device_space,
  GNTST_okay,
  GNTST_permission_denied,
  type GrantHostMapper,
  GrantTables,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_writing,
  PagedGuestMemory,
  XEN_EINVAL,
  XEN_ENOSYS,
  XEN_EPERM,
  XEN_ESRCH,
} from '../src/index.ts';
import { GRANT_FRAMES, grantFlags, grantHost, writeGrant } from './helpers.ts';

const HOST = GNTMAP_host_map;

describe('grant table size and version', () => {
  it('starts with one frame and grows to max_grant_frames through setup_table', () => {
    const { grants } = grantHost();
    expect(grants.querySize(1, DOMID_SELF)).toEqual({
      status: GNTST_okay,
      nrFrames: 1,
      maxNrFrames: 2,
    });
    expect(grants.setupTable(1, DOMID_SELF, 1)).toEqual({ status: GNTST_okay, frames: [30] });
    expect(grants.setupTable(1, DOMID_SELF, 2)).toEqual({ status: GNTST_okay, frames: [30, 31] });
    expect(grants.querySize(1, DOMID_SELF).nrFrames).toBe(2);
    expect(grants.setupTable(1, DOMID_SELF, 3)).toEqual({
      status: GNTST_general_error,
      frames: [],
    });
  });

  it('checks the domain and privilege in setup_table and query_size', () => {
    const { grants } = grantHost();
    expect(grants.setupTable(1, 2, 1).status).toBe(GNTST_permission_denied);
    expect(grants.setupTable(1, 9, 1).status).toBe(GNTST_bad_domain);
    expect(grants.setupTable(0, 2, 1).status).toBe(GNTST_okay);
    expect(grants.querySize(1, 2).status).toBe(GNTST_permission_denied);
    expect(grants.querySize(1, 77).status).toBe(GNTST_bad_domain);
  });

  it('accepts version 1, refuses version 2 with -ENOSYS and anything else with -EINVAL', () => {
    const { grants } = grantHost();
    expect(grants.setVersion(1, 1)).toEqual({ rc: 0, version: 1 });
    expect(grants.setVersion(1, 2)).toEqual({ rc: -XEN_ENOSYS, version: 1 });
    expect(grants.setVersion(1, 3)).toEqual({ rc: -XEN_EINVAL, version: 1 });
    expect(grants.getVersion(1, DOMID_SELF)).toBe(1);
    expect(grants.getVersion(1, 2)).toBe(-XEN_EPERM);
    expect(grants.getVersion(1, 5)).toBe(-XEN_ESRCH);
  });
});

describe('map and unmap', () => {
  it('maps a granted frame, sets GTF_reading|GTF_writing, and clears them on unmap', () => {
    const { grants, mem } = grantHost();
    writeGrant(mem(1), 8, 0, 5, GTF_permit_access);
    const r = grants.mapGrantRef(0, { hostAddr: 0x4000, flags: HOST, ref: 8, dom: 1 });
    expect(r.status).toBe(GNTST_okay);
    expect(grantFlags(mem(1), 8)).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    const m = grants.mapping(0, r.handle);
    expect(m?.write(10, new Uint8Array([7, 8, 9]))).toBe(true);
    expect([...mem(1).bytes.subarray(5 * 4096 + 10, 5 * 4096 + 13)]).toEqual([7, 8, 9]);
    const back = new Uint8Array(3);
    expect(m?.read(10, back)).toBe(true);
    expect([...back]).toEqual([7, 8, 9]);
    expect(m?.write(4095, new Uint8Array(2))).toBe(false);
    expect(grants.unmapGrantRef(0, { hostAddr: 0x4000, devBusAddr: 0, handle: r.handle })).toBe(
      GNTST_okay,
    );
    expect(grantFlags(mem(1), 8)).toBe(GTF_permit_access);
    expect(m?.read(10, back)).toBe(false);
    expect(grants.unmapGrantRef(0, { hostAddr: 0x4000, devBusAddr: 0, handle: r.handle })).toBe(
      GNTST_bad_handle,
    );
  });

  it('maps read-only grants only read-only and never lets them be written', () => {
    const { grants, mem } = grantHost();
    writeGrant(mem(1), 9, 0, 6, GTF_permit_access | GTF_readonly);
    expect(grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 9, dom: 1 }).status).toBe(
      GNTST_general_error,
    );
    expect(grantFlags(mem(1), 9)).toBe(GTF_permit_access | GTF_readonly);
    const r = grants.mapGrantRef(0, { hostAddr: 1, flags: HOST | GNTMAP_readonly, ref: 9, dom: 1 });
    expect(r.status).toBe(GNTST_okay);
    expect(grantFlags(mem(1), 9)).toBe(GTF_permit_access | GTF_readonly | GTF_reading);
    const m = grants.mapping(0, r.handle);
    expect(m?.readonly).toBe(true);
    expect(m?.write(0, new Uint8Array([1]))).toBe(false);
    expect(mem(1).bytes[6 * 4096]).toBe(0);
    expect(grants.mapGrantRef(0, { hostAddr: 2, flags: HOST, ref: 9, dom: 1 }).status).toBe(
      GNTST_general_error,
    );
  });

  it('refuses grants that are not for the caller, not permit_access, or out of range', () => {
    const { grants, mem } = grantHost();
    writeGrant(mem(1), 8, 2, 5, GTF_permit_access);
    expect(grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 8, dom: 1 }).status).toBe(
      GNTST_general_error,
    );
    writeGrant(mem(1), 10, 0, 5, 2 /* accept_transfer */);
    expect(grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 10, dom: 1 }).status).toBe(
      GNTST_general_error,
    );
    expect(grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 512, dom: 1 }).status).toBe(
      GNTST_bad_gntref,
    );
    expect(grants.mapGrantRef(0, { hostAddr: 1, flags: 0, ref: 8, dom: 1 }).status).toBe(
      GNTST_bad_gntref,
    );
    expect(grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 8, dom: 44 }).status).toBe(
      GNTST_bad_domain,
    );
    expect(
      grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 8, dom: DOMID_SELF }).status,
    ).toBe(GNTST_bad_domain);
    writeGrant(mem(1), 11, 0, 99, GTF_permit_access);
    expect(grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 11, dom: 1 }).status).toBe(
      GNTST_bad_page,
    );
    expect(grantFlags(mem(1), 11)).toBe(GTF_permit_access);
  });

  it('lets only the first mapper domain pin an entry while it is pinned', () => {
    const { grants, mem } = grantHost();
    writeGrant(mem(1), 8, 0, 5, GTF_permit_access);
    const a = grants.mapGrantRef(0, { hostAddr: 1, flags: HOST | GNTMAP_readonly, ref: 8, dom: 1 });
    expect(grantFlags(mem(1), 8)).toBe(GTF_permit_access | GTF_reading);
    // A second, writable mapping by the same domain upgrades the flags.
    const b = grants.mapGrantRef(0, { hostAddr: 2, flags: HOST, ref: 8, dom: 1 });
    expect(grantFlags(mem(1), 8)).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    expect(a.handle).not.toBe(b.handle);
    writeGrant(mem(1), 8, 2, 5, GTF_permit_access | GTF_reading | GTF_writing);
    expect(grants.mapGrantRef(2, { hostAddr: 1, flags: HOST, ref: 8, dom: 1 }).status).toBe(
      GNTST_general_error,
    );
    expect(grants.unmapGrantRef(0, { hostAddr: 2, devBusAddr: 0, handle: b.handle })).toBe(
      GNTST_okay,
    );
    expect(grantFlags(mem(1), 8) & (GTF_reading | GTF_writing)).toBe(GTF_reading);
    expect(grants.unmapGrantRef(0, { hostAddr: 1, devBusAddr: 0, handle: a.handle })).toBe(
      GNTST_okay,
    );
    expect(grantFlags(mem(1), 8) & (GTF_reading | GTF_writing)).toBe(0);
  });

  it("keeps a mapping usable after the granter revokes, and clears only Xen's flags on unmap", () => {
    const { grants, mem } = grantHost();
    writeGrant(mem(1), 8, 0, 5, GTF_permit_access);
    const r = grants.mapGrantRef(0, { hostAddr: 0x9000, flags: HOST, ref: 8, dom: 1 });
    // A hostile granter rewrites the entry while it is mapped.
    writeGrant(mem(1), 8, 0, 6, GTF_readonly | GTF_reading | GTF_writing);
    const m = grants.mapping(0, r.handle);
    expect(m?.frame).toBe(5);
    expect(m?.write(0, new Uint8Array([0xaa]))).toBe(true);
    expect(mem(1).bytes[5 * 4096]).toBe(0xaa);
    expect(mem(1).bytes[6 * 4096]).toBe(0);
    expect(grants.unmapGrantRef(0, { hostAddr: 0x9000, devBusAddr: 0, handle: r.handle })).toBe(
      GNTST_okay,
    );
    expect(grantFlags(mem(1), 8)).toBe(GTF_readonly);
    // Unpinned now, so the entry's current contents decide the next map.
    expect(grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 8, dom: 1 }).status).toBe(
      GNTST_general_error,
    );
  });

  it('tracks device and host mappings separately and checks the unmap addresses', () => {
    const { grants, mem } = grantHost();
    writeGrant(mem(1), 8, 0, 5, GTF_permit_access);
    const r = grants.mapGrantRef(0, {
      hostAddr: 0x7000,
      flags: HOST | GNTMAP_device_map,
      ref: 8,
      dom: 1,
    });
    expect(r.devBusAddr).toBe(5 * 4096);
    expect(grants.unmapGrantRef(0, { hostAddr: 0, devBusAddr: 0x1234000, handle: r.handle })).toBe(
      GNTST_bad_dev_addr,
    );
    expect(grants.unmapGrantRef(0, { hostAddr: 0x8000, devBusAddr: 0, handle: r.handle })).toBe(
      GNTST_general_error,
    );
    expect(grants.unmapGrantRef(0, { hostAddr: 0x7000, devBusAddr: 0, handle: r.handle })).toBe(
      GNTST_okay,
    );
    expect(grants.mapping(0, r.handle)).toBeUndefined();
    expect(grantFlags(mem(1), 8)).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    expect(grants.unmapGrantRef(0, { hostAddr: 0, devBusAddr: 5 * 4096, handle: r.handle })).toBe(
      GNTST_okay,
    );
    expect(grantFlags(mem(1), 8)).toBe(GTF_permit_access);
    expect(grants.unmapGrantRef(0, { hostAddr: 0, devBusAddr: 0, handle: 123456 })).toBe(
      GNTST_bad_handle,
    );
  });

  it('runs out of maptrack handles with GNTST_no_device_space', () => {
    const mem0 = new PagedGuestMemory(32);
    const mem1 = new PagedGuestMemory(32);
    const grants = new GrantTables();
    grants.addDomain({ domid: 0, memory: mem0, grantFrames: GRANT_FRAMES, maxMaptrack: 2 });
    grants.addDomain({ domid: 1, memory: mem1, grantFrames: GRANT_FRAMES });
    writeGrant(mem1, 8, 0, 5, GTF_permit_access);
    expect(grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 8, dom: 1 }).status).toBe(
      GNTST_okay,
    );
    expect(grants.mapGrantRef(0, { hostAddr: 2, flags: HOST, ref: 8, dom: 1 }).status).toBe(
      GNTST_okay,
    );
    expect(grants.mapGrantRef(0, { hostAddr: 3, flags: HOST, ref: 8, dom: 1 }).status).toBe(
      GNTST_no_device_space,
    );
  });

  it("releases a destroyed mapper's mappings and keeps a destroyed granter's mapped frames reachable", () => {
    const { grants, mem } = grantHost();
    writeGrant(mem(1), 8, 0, 5, GTF_permit_access);
    writeGrant(mem(2), 8, 0, 5, GTF_permit_access);
    writeGrant(mem(0), 8, 2, 4, GTF_permit_access);
    const fromDom2 = grants.mapGrantRef(2, { hostAddr: 1, flags: HOST, ref: 8, dom: 0 });
    expect(grantFlags(mem(0), 8)).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    grants.removeDomain(2);
    expect(grantFlags(mem(0), 8)).toBe(GTF_permit_access);
    expect(fromDom2.status).toBe(GNTST_okay);
    const r = grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 8, dom: 1 });
    grants.removeDomain(1);
    expect(grants.mapping(0, r.handle)?.write(0, new Uint8Array([3]))).toBe(true);
    expect(mem(1).bytes[5 * 4096]).toBe(3);
    expect(grants.unmapGrantRef(0, { hostAddr: 1, devBusAddr: 0, handle: r.handle })).toBe(
      GNTST_okay,
    );
    expect(grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 8, dom: 1 }).status).toBe(
      GNTST_bad_domain,
    );
  });
});

describe('grant copy', () => {
  function copyHost() {
    const host = grantHost();
    const { mem } = host;
    writeGrant(mem(1), 8, 0, 5, GTF_permit_access);
    writeGrant(mem(1), 9, 0, 6, GTF_permit_access | GTF_readonly);
    mem(1).bytes.set([1, 2, 3, 4], 5 * 4096 + 100);
    mem(1).bytes.set([9, 8, 7], 6 * 4096);
    mem(0).bytes.set([0x55, 0x66], 3 * 4096 + 50);
    return host;
  }

  it("copies from a grant into the caller's own frame and back into a writable grant", () => {
    const { grants, mem } = copyHost();
    const rc = grants.copy(0, {
      source: { refOrGmfn: 8, domid: 1, offset: 100 },
      dest: { refOrGmfn: 3, domid: DOMID_SELF, offset: 0 },
      len: 4,
      flags: GNTCOPY_source_gref,
    });
    expect(rc).toBe(GNTST_okay);
    expect([...mem(0).bytes.subarray(3 * 4096, 3 * 4096 + 4)]).toEqual([1, 2, 3, 4]);
    expect(grantFlags(mem(1), 8)).toBe(GTF_permit_access);
    const rc2 = grants.copy(0, {
      source: { refOrGmfn: 3, domid: DOMID_SELF, offset: 50 },
      dest: { refOrGmfn: 8, domid: 1, offset: 4094 },
      len: 2,
      flags: GNTCOPY_dest_gref,
    });
    expect(rc2).toBe(GNTST_okay);
    expect([...mem(1).bytes.subarray(5 * 4096 + 4094, 5 * 4096 + 4096)]).toEqual([0x55, 0x66]);
    expect(grantFlags(mem(1), 8)).toBe(GTF_permit_access);
  });

  it('reads read-only grants but refuses to write them', () => {
    const { grants, mem } = copyHost();
    const self = { refOrGmfn: 3, domid: DOMID_SELF, offset: 0 };
    const ro = { refOrGmfn: 9, domid: 1, offset: 0 };
    expect(grants.copy(0, { source: ro, dest: self, len: 3, flags: GNTCOPY_source_gref })).toBe(
      GNTST_okay,
    );
    expect([...mem(0).bytes.subarray(3 * 4096, 3 * 4096 + 3)]).toEqual([9, 8, 7]);
    expect(grants.copy(0, { source: self, dest: ro, len: 3, flags: GNTCOPY_dest_gref })).toBe(
      GNTST_general_error,
    );
    expect([...mem(1).bytes.subarray(6 * 4096, 6 * 4096 + 3)]).toEqual([9, 8, 7]);
    expect(grantFlags(mem(1), 9)).toBe(GTF_permit_access | GTF_readonly);
  });

  it('validates offsets, lengths, domains, frames and grant references', () => {
    const { grants } = copyHost();
    const self = { refOrGmfn: 3, domid: DOMID_SELF, offset: 0 };
    const g = { refOrGmfn: 8, domid: 1, offset: 0 };
    const c = (source: typeof self, dest: typeof self, len: number, flags: number) =>
      grants.copy(0, { source, dest, len, flags });
    expect(c({ ...g, offset: 4000 }, self, 97, GNTCOPY_source_gref)).toBe(GNTST_bad_copy_arg);
    expect(c(g, { ...self, offset: 4095 }, 2, GNTCOPY_source_gref)).toBe(GNTST_bad_copy_arg);
    expect(c(g, self, 4096, GNTCOPY_source_gref)).toBe(GNTST_okay);
    expect(c(g, self, 1, 0)).toBe(GNTST_permission_denied);
    expect(c(self, g, 1, 0)).toBe(GNTST_permission_denied);
    expect(c({ ...g, domid: 40 }, self, 1, GNTCOPY_source_gref)).toBe(GNTST_bad_domain);
    expect(c({ ...g, refOrGmfn: 600 }, self, 1, GNTCOPY_source_gref)).toBe(GNTST_bad_gntref);
    expect(c({ ...g, refOrGmfn: 10 }, self, 1, GNTCOPY_source_gref)).toBe(GNTST_general_error);
    expect(c({ ...self, refOrGmfn: 32 }, self, 1, 0)).toBe(GNTST_bad_page);
    expect(c(g, { ...self, refOrGmfn: 1e9 }, 1, GNTCOPY_source_gref)).toBe(GNTST_bad_page);
    expect(
      c(g, { refOrGmfn: 8, domid: 1, offset: 0 }, 1, GNTCOPY_source_gref | GNTCOPY_dest_gref),
    ).toBe(GNTST_okay);
  });

  it('does not let a grantee copy from a grant made to another domain', () => {
    const { grants, mem } = copyHost();
    const rc = grants.copy(2, {
      source: { refOrGmfn: 8, domid: 1, offset: 100 },
      dest: { refOrGmfn: 3, domid: DOMID_SELF, offset: 0 },
      len: 4,
      flags: GNTCOPY_source_gref,
    });
    expect(rc).toBe(GNTST_general_error);
    expect(mem(2).bytes[3 * 4096]).toBe(0);
  });
});

/** A PV-style mapper: a page-aligned VA below 1 GiB takes one mapping (a tiny page table). */
class PageTable implements GrantHostMapper {
  readonly ptes = new Map<string, { granter: number; frame: number; ro: boolean }>();
  map(mapper: number, va: number, granter: number, frame: number, flags: number): number {
    if (va % 4096 !== 0 || va >= 2 ** 30 || this.ptes.has(`${mapper}:${va}`))
      return GNTST_general_error;
    this.ptes.set(`${mapper}:${va}`, { granter, frame, ro: (flags & GNTMAP_readonly) !== 0 });
    return GNTST_okay;
  }
  unmap(mapper: number, va: number, granter: number, frame: number): number {
    const pte = this.ptes.get(`${mapper}:${va}`);
    if (!pte || pte.granter !== granter || pte.frame !== frame) return GNTST_general_error;
    this.ptes.delete(`${mapper}:${va}`);
    return GNTST_okay;
  }
}

describe('host mappings through a mapper port', () => {
  function pvHost() {
    const pt = new PageTable();
    const mem0 = new PagedGuestMemory(32);
    const mem1 = new PagedGuestMemory(32);
    const grants = new GrantTables();
    grants.addDomain({
      domid: 0,
      privileged: true,
      memory: mem0,
      grantFrames: GRANT_FRAMES,
      hostMapper: pt,
    });
    grants.addDomain({ domid: 1, memory: mem1, grantFrames: GRANT_FRAMES });
    writeGrant(mem1, 8, 0, 5, GTF_permit_access);
    return { pt, mem1, grants };
  }

  it("installs and removes the mapping in the mapper's page table", () => {
    const { pt, mem1, grants } = pvHost();
    const r = grants.mapGrantRef(0, {
      hostAddr: 0x5000,
      flags: HOST | GNTMAP_readonly,
      ref: 8,
      dom: 1,
    });
    expect(r.status).toBe(GNTST_okay);
    expect(pt.ptes.get('0:20480')).toEqual({ granter: 1, frame: 5, ro: true });
    expect(grants.unmapGrantRef(0, { hostAddr: 0x6000, devBusAddr: 0, handle: r.handle })).toBe(
      GNTST_general_error,
    );
    expect(grantFlags(mem1, 8)).toBe(GTF_permit_access | GTF_reading);
    expect(grants.unmapGrantRef(0, { hostAddr: 0x5000, devBusAddr: 0, handle: r.handle })).toBe(
      GNTST_okay,
    );
    expect(pt.ptes.size).toBe(0);
    expect(grantFlags(mem1, 8)).toBe(GTF_permit_access);
  });

  it('unpins the grant again when the mapper refuses the address', () => {
    const { pt, mem1, grants } = pvHost();
    expect(grants.mapGrantRef(0, { hostAddr: 0x5001, flags: HOST, ref: 8, dom: 1 }).status).toBe(
      GNTST_general_error,
    );
    expect(grantFlags(mem1, 8)).toBe(GTF_permit_access);
    expect(grants.getState().domains.find((d) => d.domid === 1)?.active).toEqual([]);
    // A read-only pin stays read-only when a writable upgrade is refused.
    const ro = grants.mapGrantRef(0, {
      hostAddr: 0x5000,
      flags: HOST | GNTMAP_readonly,
      ref: 8,
      dom: 1,
    });
    expect(ro.status).toBe(GNTST_okay);
    expect(grants.mapGrantRef(0, { hostAddr: 0x5000, flags: HOST, ref: 8, dom: 1 }).status).toBe(
      GNTST_general_error,
    );
    expect(grantFlags(mem1, 8)).toBe(GTF_permit_access | GTF_reading);
    expect(pt.ptes.size).toBe(1);
  });
});

describe('swap_grant_ref', () => {
  it("exchanges two idle entries of the caller's own table and refuses busy or bad ones", () => {
    const { grants, mem } = grantHost();
    writeGrant(mem(1), 8, 0, 5, GTF_permit_access);
    writeGrant(mem(1), 9, 2, 6, GTF_permit_access | GTF_readonly);
    expect(grants.swapGrantRef(1, 8, 9)).toBe(GNTST_okay);
    expect(grantFlags(mem(1), 8)).toBe(GTF_permit_access | GTF_readonly);
    expect(grantFlags(mem(1), 9)).toBe(GTF_permit_access);
    expect(grants.swapGrantRef(1, 9, 9)).toBe(GNTST_okay);
    expect(grants.swapGrantRef(1, 9, 512)).toBe(GNTST_bad_gntref);
    expect(grants.swapGrantRef(1, 0xffffffff, 9)).toBe(GNTST_bad_gntref);
    const r = grants.mapGrantRef(0, { hostAddr: 1, flags: HOST, ref: 9, dom: 1 });
    expect(r.status).toBe(GNTST_okay);
    expect(grants.swapGrantRef(1, 8, 9)).toBe(GNTST_eagain);
    expect(grants.swapGrantRef(1, 9, 8)).toBe(GNTST_eagain);
    grants.unmapGrantRef(0, { hostAddr: 1, devBusAddr: 0, handle: r.handle });
    expect(grants.swapGrantRef(1, 9, 8)).toBe(GNTST_okay);
  });
});

describe('grant state', () => {
  it('round-trips live mappings through plain JSON state', () => {
    const { grants, mem } = grantHost();
    writeGrant(mem(1), 8, 0, 5, GTF_permit_access);
    const r = grants.mapGrantRef(0, { hostAddr: 0x1000, flags: HOST, ref: 8, dom: 1 });
    const state = JSON.parse(JSON.stringify(grants.getState()));
    const restored = GrantTables.fromState(state, { memoryOf: mem });
    expect(restored.getState()).toEqual(grants.getState());
    expect(restored.mapping(0, r.handle)?.write(1, new Uint8Array([4]))).toBe(true);
    expect(mem(1).bytes[5 * 4096 + 1]).toBe(4);
    expect(restored.unmapGrantRef(0, { hostAddr: 0x1000, devBusAddr: 0, handle: r.handle })).toBe(
      GNTST_okay,
    );
    expect(grantFlags(mem(1), 8)).toBe(GTF_permit_access);
  });
});
