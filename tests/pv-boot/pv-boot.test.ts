import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MachinePhysicalMemory, PV_INTERCEPTS, PV_RUN, PvVcpu } from '@typevisor/hypervisor';
import { X86Cpu } from '@typevisor/x86-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { bootPvDomain, DOMID } from './boot-domain.ts';

const GUEST_DIR = fileURLToPath(new URL('./guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
const SHUTDOWN_poweroff = 0;
const SHUTDOWN_crash = 3;

let dir = '';
const elf = (name: string): string => join(dir, `${name}.elf`);

/** Runs until the vCPU shuts down (or `slices` budgets pass), collecting every result. */
function runToEnd(d: ReturnType<typeof bootPvDomain>, slices = 200, budget = 100_000) {
  const results: number[] = [];
  for (let i = 0; i < slices; i++) {
    const r = d.vcpu.run(budget);
    results.push(r);
    if (r === PV_RUN.SHUTDOWN) break;
  }
  return results;
}

describe.skipIf(!haveNasm && !process.env.CI)(
  'a 64-bit PV guest on the PV vCPU (nasm-built)',
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'pv-boot-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
    });

    it('boots through the toolstack builder and the MMU, prints, calls xen_version, survives hostile hypercalls, yields and powers off', () => {
      const d = bootPvDomain(elf('pv-hello'));
      expect(d.pinRc).toBe(0);
      const results = runToEnd(d);
      expect(results).toContain(PV_RUN.YIELD);
      expect(results.at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(d.vcpu.crash).toBeNull();
      expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_poweroff]]);
      expect(d.console()).toBe(
        [
          'Typevisor PV guest: hello through console_io',
          'and through the hypercall page',
          'xen_version 0x0000000000040011', // (4 << 16) | 17
          'extraversion .0-typevisor',
          'start_info xen-3.0-x86_64',
          'hypercall 99 -> 0xffffffffffffffda', // -ENOSYS (38)
          'console_io unmapped buffer -> 0xfffffffffffffff2', // -EFAULT (14)
          'console_io Xen-area buffer -> 0xfffffffffffffff2', // -EFAULT
          'extraversion into the read-only L4 -> 0xfffffffffffffff2', // -EFAULT
          'yield -> 0x0000000000000000',
          'shutting down',
          '',
        ].join('\n'),
      );
      // Nothing runs after the shutdown.
      expect(d.vcpu.run(1000)).toBe(PV_RUN.SHUTDOWN);
      expect(d.shutdowns.length).toBe(1);
    });

    it('runs the kernel in ring 3 on FLAT_KERNEL_CS/SS over page tables Xen marked _PAGE_USER', () => {
      const d = bootPvDomain(elf('pv-hello'));
      expect(d.cpu.cpl).toBe(3);
      expect(d.cpu.segSel[1]).toBe(0xe033);
      expect(d.cpu.segSel[2]).toBe(0xe02b);
      // Every present entry of the bootstrap L4 carries U after validation.
      const l4 = d.layout.vcpu.topLevelMfn;
      let present = 0;
      for (let i = 0; i < 256; i++) {
        const lo = d.machine.memory.read32(l4, i * 8);
        if ((lo & 1) === 0) continue;
        present++;
        expect(lo & 4).toBe(4);
      }
      expect(present).toBeGreaterThan(0);
      expect(d.vcpu.run(50)).toBe(PV_RUN.BUDGET);
    });

    it('crashes only the faulting domain when its kernel takes a page fault it has no handler for', () => {
      const d = bootPvDomain(elf('pv-crash-pf'));
      const other = bootPvDomain(elf('pv-hello'));
      expect(runToEnd(d).at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_crash]]);
      expect(d.vcpu.crash?.kind).toBe('exception');
      expect(d.vcpu.crash?.code).toBe(14); // #PF
      expect(d.vcpu.crash?.cr2).toBe(0x7fff0000);
      expect(d.console()).toContain('hello through console_io');
      // Another domain runs to completion regardless.
      expect(runToEnd(other).at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(other.shutdowns).toEqual([[DOMID, SHUTDOWN_poweroff]]);
    });

    it('bounces a page fault to the handler the kernel registered, which returns with HYPERVISOR_iret', () => {
      const d = bootPvDomain(elf('pv-trap'));
      expect(runToEnd(d).at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(d.vcpu.crash).toBeNull();
      expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_poweroff]]);
      const text = d.console();
      // Error code 2: not present, write. The kernel runs in ring 3, but Xen's pv_inject_event
      // sets the user bit by the guest mode, so a kernel-mode fault has it clear (the user-mode
      // reference guest's golden shows 0 for a kernel read fault, 4 for a user one).
      expect(text).toContain(
        'through the hypercall page\ncaught #PF, error code 0x0000000000000002\nresumed after the fault\nxen_version 0x0000000000040011\n',
      );
      expect(text.endsWith('shutting down\n')).toBe(true);
      // The fault address went to vcpu_info[0].arch.cr2 (offset 16 of shared_info).
      const si = d.machine.memory.readFrame(d.machine.p2m(DOMID).get(d.layout.startInfoPfn));
      const sharedInfoMa = new DataView(si.buffer).getBigUint64(40, true);
      expect(d.machine.memory.read32(Number(sharedInfoMa / 4096n), 16)).toBe(0x7fff0000);
    });

    it('delivers an event upcall to the callback registered with set_callbacks once the kernel unmasks', () => {
      const d = bootPvDomain(elf('pv-event'));
      expect(runToEnd(d).at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(d.vcpu.crash).toBeNull();
      expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_poweroff]]);
      expect(d.console()).toContain(
        'through the hypercall page\n0x0000000000000000\nevent upcall\nback from the upcall\nxen_version',
      );
    });

    it('crashes the domain on a privileged instruction in its ring-3 kernel (#GP)', () => {
      const d = bootPvDomain(elf('pv-crash-gp'));
      expect(runToEnd(d).at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_crash]]);
      expect(d.vcpu.crash?.code).toBe(13);
    });

    it('saves at a yield and resumes on a fresh CPU from JSON state, finishing the same run', () => {
      const d = bootPvDomain(elf('pv-hello'));
      let r: number = PV_RUN.BUDGET;
      while (r !== PV_RUN.YIELD) r = d.vcpu.run(10_000);
      const saved = JSON.parse(JSON.stringify({ cpu: d.cpu.getState(), vcpu: d.vcpu.getState() }));
      const cpu = X86Cpu.fromState(saved.cpu, {
        memory: new MachinePhysicalMemory(d.machine.memory),
        intercepts: PV_INTERCEPTS,
      });
      const resumed = PvVcpu.fromState(saved.vcpu, { ...d.vcpuOptions, cpu });
      expect(resumed.getState()).toEqual(d.vcpu.getState());
      while (r !== PV_RUN.SHUTDOWN) r = resumed.run(10_000);
      // print_hex of the yield result, "shutting down", and the shutdown itself.
      expect(resumed.hypercalls).toBe(d.vcpu.hypercalls + 3);
      expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_poweroff]]);
      expect(d.console().endsWith('yield -> 0x0000000000000000\nshutting down\n')).toBe(true);
    });

    it('returns to the embedder when the budget runs out on a spinning guest', () => {
      const d = bootPvDomain(elf('pv-spin'));
      for (let i = 0; i < 5; i++) expect(d.vcpu.run(10_000)).toBe(PV_RUN.BUDGET);
      expect(d.shutdowns).toEqual([]);
    });
  },
);
