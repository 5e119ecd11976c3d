/**
 * Grant mapping for a native (TypeScript) backend domain: the split-driver `GrantMapper` port over
 * `@typevisor/hypervisor`'s grant tables, handing out views of the granted machine frame itself
 * (shared, not copied), as a PV backend's mapping is.
 * @module
 */
import {
  GNTMAP_host_map,
  GNTMAP_readonly,
  GNTST_okay,
  type GrantTables,
} from '@typevisor/hypervisor';
import type { MachineMemory } from '@typevisor/mmu';
import type { GrantMapper, GrantMapping } from '@typevisor/split-drivers';

/** A live mapping with what unmapping needs. */
interface NativeMapping extends GrantMapping {
  /** The host-address token used at map time. */
  readonly hostAddr: number;
}

/** The 4096 bytes of machine frame `mfn`, as a view sharing the machine's storage. */
export function framePage(memory: MachineMemory, mfn: number): Uint8Array {
  const chunk = memory.u8Chunks[memory.chunkForWrite(mfn)] as Uint8Array;
  const base = (mfn & 511) << 12;
  return chunk.subarray(base, base + 4096);
}

/** `GNTTABOP_map_grant_ref` / `unmap_grant_ref` for native domain `domid`. */
export class NativeGrantMapper implements GrantMapper {
  /** The mapping domain. */
  readonly domid: number;
  private readonly grants: GrantTables;
  private readonly memory: MachineMemory;
  private nextToken = 1;

  /** Maps into native domain `domid` (added to `grants` already) from `memory`. */
  constructor(grants: GrantTables, memory: MachineMemory, domid: number) {
    this.grants = grants;
    this.memory = memory;
    this.domid = domid;
  }

  /** Maps grant `ref` of `domid`; a negative `GNTST_*` for a bad ref, never a throw. */
  mapGrant(domid: number, ref: number, readonly: boolean): GrantMapping | number {
    const hostAddr = this.nextToken++ * 4096;
    const r = this.grants.mapGrantRef(this.domid, {
      hostAddr,
      flags: GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0),
      ref,
      dom: domid,
    });
    if (r.status !== GNTST_okay) return r.status;
    const m = this.grants.mapping(this.domid, r.handle);
    if (m === undefined) {
      this.grants.unmapGrantRef(this.domid, { hostAddr, devBusAddr: 0, handle: r.handle });
      return -1; // GNTST_general_error
    }
    const mapping: NativeMapping = {
      page: framePage(this.memory, m.frame),
      handle: r.handle,
      writable: !readonly,
      hostAddr,
    };
    return mapping;
  }

  /** Unmaps a mapping returned by {@link NativeGrantMapper.mapGrant}. */
  unmapGrant(mapping: GrantMapping): void {
    const hostAddr = (mapping as NativeMapping).hostAddr ?? 0;
    this.grants.unmapGrantRef(this.domid, { hostAddr, devBusAddr: 0, handle: mapping.handle });
  }
}
