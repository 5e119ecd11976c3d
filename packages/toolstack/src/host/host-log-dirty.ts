/**
 * The host's log-dirty control: `@typevisor/hypervisor`'s {@link LogDirtyControl}
 * (`XEN_DOMCTL_shadow_op` ENABLE_LOGDIRTY/PEEK/CLEAN/OFF) over `@typevisor/mmu`'s
 * {@link DirtyLog}, watching the host machine's writers, the guests' vCPUs and grant tables.
 * Created on first use, one per host; live migration drives its pre-copy rounds with it.
 * @module
 */
import { LogDirtyControl } from '@typevisor/hypervisor';
import { DirtyLog, INVALID_P2M_ENTRY } from '@typevisor/mmu';
import type { Host } from './host.ts';

const controls = new WeakMap<Host, LogDirtyControl>();

/** The log-dirty control of `host` (dom0 is the privileged caller). */
export function hostLogDirty(host: Host): LogDirtyControl {
  let control = controls.get(host);
  if (control !== undefined) return control;
  const machine = host.machine;
  const log = new DirtyLog(machine.frames, { memory: machine.memory });
  control = new LogDirtyControl({
    log,
    grants: host.grants,
    domains: {
      pages: (domid) => (host.domains.has(domid) ? machine.p2m(domid).size : -1),
      cpus: (domid) => host.domains.get(domid)?.vcpus.map((v) => v.cpu) ?? [],
      // xenstored's and xenconsoled's rings: dom0 writes them through views of the frames.
      foreignWritable: (domid) => {
        const d = host.domains.get(domid);
        return d === undefined ? [] : [d.layout.storePfn, d.layout.consolePfn];
      },
      pfnOf: (domid, mfn) => {
        if (!(mfn >= 0 && mfn < machine.memory.frames)) return -1;
        if (machine.frames.owner[mfn] !== domid) return -1;
        const pfn = machine.frames.m2p[mfn] ?? INVALID_P2M_ENTRY;
        return pfn === INVALID_P2M_ENTRY ? -1 : pfn;
      },
    },
  });
  controls.set(host, control);
  return control;
}
