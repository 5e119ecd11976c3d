import { existsSync } from 'node:fs';
import { PV_RUN } from '@typevisor/hypervisor';
import type { MachineMemory } from '@typevisor/mmu';
import { framePage } from '@typevisor/toolstack';
import { inProcessTransport, RingManager, Xenstore, XenstoreClient } from '@typevisor/xenstore';
import { describe, expect, it } from 'vitest';
import { boot32, DOMID } from './boot-domain32.ts';

/** Debian's prebuilt GRUB for 32-bit PAE PV domains (package grub-xen-host). */
const GRUB_I386 = '/usr/lib/grub-xen/grub-i386-xen.bin';
const haveGrub = existsSync(GRUB_I386);

/** xenconsoled's part: moves everything between out_cons and out_prod of the console ring out. */
function drainConsole(memory: MachineMemory, ring: number, out: number[]): void {
  // struct xencons_interface: in[1024], out[2048], in_cons, in_prod, out_cons @3080, out_prod @3084.
  let cons = memory.read32(ring, 3080) >>> 0;
  const prod = memory.read32(ring, 3084) >>> 0;
  for (let n = 0; cons !== prod && n < 2048; n++) {
    out.push(memory.read8(ring, 1024 + (cons & 2047)));
    cons = (cons + 1) >>> 0;
  }
  memory.write32(ring, 3080, cons | 0);
}

describe.skipIf(!haveGrub && !process.env.CI)(
  "Debian's GRUB for 32-bit PV (grub-i386-xen.bin, xen-3.0-x86_32p)",
  () => {
    it('boots unmodified through the 32-bit PV path, talks to xenstored over its ring and reaches the grub> prompt on the PV console', async () => {
      const kicked = new Set<number>();
      const d = boot32(GRUB_I386, { memoryMiB: 32, dom0PortPending: (port) => kicked.add(port) });
      expect(d.layout.guestType).toBe('xen-3.0-x86_32p');
      expect(d.layout.vcpu.rip).toBe(0n); // GRUB's ENTRY note is 0: page 0 is mapped and run
      const p2m = d.machine.p2m(DOMID);
      const memory = d.machine.memory;
      const xenstore = new Xenstore();
      const rings = new RingManager(xenstore, {
        mapRingPage: (domid, mfn) =>
          d.machine.frames.owner[mfn] === domid ? framePage(memory, mfn) : undefined,
        notify: () => {
          d.evtchn.send(0, d.dom0Ports.store);
        },
      });
      const xs = new XenstoreClient(inProcessTransport(xenstore));
      await xs.introduceDomain(DOMID, p2m.get(d.layout.storePfn), d.guestPorts.store);

      const out: number[] = [];
      const text = (): string => String.fromCharCode(...out);
      const ring = p2m.get(d.layout.consolePfn);
      const seen = new Set<number>();
      for (let slice = 0; slice < 2000 && !text().includes('grub> '); slice++) {
        const r = d.vcpu.run(200_000);
        seen.add(r);
        if (kicked.delete(d.dom0Ports.store)) {
          d.evtchn.clearPending(0, d.dom0Ports.store); // as dom0's event handler does
          rings.kick(DOMID);
        }
        drainConsole(memory, ring, out);
        if (r === PV_RUN.SHUTDOWN) break;
      }
      expect(d.vcpu.crash).toBeNull();
      expect(d.shutdowns).toEqual([]);
      // GRUB yields while it waits for xenstored's replies.
      expect(seen.has(PV_RUN.YIELD)).toBe(true);
      const screen = text();
      expect(screen).toContain('Welcome to GRUB!');
      expect(screen).toContain('GNU GRUB  version 2.06');
      expect(screen.endsWith('grub> ')).toBe(true);
      // It replaced the builder's page tables with its own (map_all_pages: pin, switch, unpin).
      expect(d.cpu.cr3 / 4096).not.toBe(d.layout.vcpu.topLevelMfn);
      expect(d.machine.frames.pinned[d.cpu.cr3 / 4096]).toBe(1);
    });
  },
);
