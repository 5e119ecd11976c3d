import {
  EventChannels,
  GrantTables,
  type GuestAbi,
  PagedGuestMemory,
  SHARED_INFO_X86_32,
  SHARED_INFO_X86_64,
} from '../src/index.ts';

/** Records every upcall notification. */
export class UpcallLog {
  readonly calls: Array<[number, number]> = [];
  upcallPending(domid: number, vcpu: number): void {
    this.calls.push([domid, vcpu]);
  }
}

/** A test domain: memory with shared_info in frame 0. */
export interface TestDomain {
  domid: number;
  abi: GuestAbi;
  mem: PagedGuestMemory;
}

export function layoutOf(abi: GuestAbi) {
  return abi === 'x86_32' ? SHARED_INFO_X86_32 : SHARED_INFO_X86_64;
}

export function bit(mem: PagedGuestMemory, base: number, n: number): boolean {
  return ((mem.bytes[base + (n >>> 3)] ?? 0) & (1 << (n & 7))) !== 0;
}

export function setBit(mem: PagedGuestMemory, base: number, n: number, on: boolean): void {
  const i = base + (n >>> 3);
  const b = mem.bytes[i] ?? 0;
  mem.bytes[i] = on ? b | (1 << (n & 7)) : b & ~(1 << (n & 7));
}

export function pending(d: TestDomain, port: number): boolean {
  return bit(d.mem, layoutOf(d.abi).evtchn_pending, port);
}

export function masked(d: TestDomain, port: number): boolean {
  return bit(d.mem, layoutOf(d.abi).evtchn_mask, port);
}

export function selector(d: TestDomain, vcpu: number, word: number): boolean {
  return bit(d.mem, vcpu * 64 + layoutOf(d.abi).vcpu_evtchn_pending_sel, word);
}

export function upcallPending(d: TestDomain, vcpu: number): number {
  return d.mem.bytes[vcpu * 64] ?? -1;
}

/** Event channels with dom0 (privileged) and the given domUs, each with 16 frames of memory. */
export function evtchnHost(
  domains: Array<{
    domid: number;
    abi?: GuestAbi;
    vcpus?: number;
    privileged?: boolean;
    maxPorts?: number;
  }>,
) {
  const log = new UpcallLog();
  const evtchn = new EventChannels(log);
  const doms = new Map<number, TestDomain>();
  for (const spec of domains) {
    const abi = spec.abi ?? 'x86_64';
    const mem = new PagedGuestMemory(16);
    evtchn.addDomain({
      domid: spec.domid,
      abi,
      vcpus: spec.vcpus ?? 2,
      memory: mem,
      sharedInfoAddress: 0,
      privileged: spec.privileged ?? spec.domid === 0,
      ...(spec.maxPorts === undefined ? {} : { maxPorts: spec.maxPorts }),
    });
    doms.set(spec.domid, { domid: spec.domid, abi, mem });
  }
  const dom = (id: number): TestDomain => {
    const d = doms.get(id);
    if (!d) throw new Error(`no test domain ${id}`);
    return d;
  };
  return { evtchn, log, dom };
}

export const GRANT_FRAMES = [30, 31];

/** Grant tables with dom0 (privileged), dom1 and dom2, each with 32 frames; grant frames 30 and 31. */
export function grantHost(ids: number[] = [0, 1, 2]) {
  const grants = new GrantTables();
  const mems = new Map<number, PagedGuestMemory>();
  for (const domid of ids) {
    const mem = new PagedGuestMemory(32);
    mems.set(domid, mem);
    grants.addDomain({ domid, privileged: domid === 0, memory: mem, grantFrames: GRANT_FRAMES });
  }
  const mem = (id: number): PagedGuestMemory => {
    const m = mems.get(id);
    if (!m) throw new Error(`no test domain ${id}`);
    return m;
  };
  return { grants, mem };
}

function entryView(mem: PagedGuestMemory, ref: number): DataView {
  const frame = GRANT_FRAMES[ref >>> 9] ?? 0;
  return new DataView(mem.bytes.buffer, mem.bytes.byteOffset + frame * 4096 + (ref & 511) * 8, 8);
}

/** Writes a v1 grant entry the way a guest does: domid and frame, then flags. */
export function writeGrant(
  mem: PagedGuestMemory,
  ref: number,
  domid: number,
  frame: number,
  flags: number,
): void {
  const v = entryView(mem, ref);
  v.setUint16(2, domid, true);
  v.setUint32(4, frame, true);
  v.setUint16(0, flags, true);
}

export function grantFlags(mem: PagedGuestMemory, ref: number): number {
  return entryView(mem, ref).getUint16(0, true);
}
