import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  fillHypercallPage32,
  MachinePhysicalMemory,
  PV_RUN,
  PV32_INTERCEPTS,
  Pv32Vcpu,
} from '@typevisor/hypervisor';
import { X86Cpu } from '@typevisor/x86-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Booted32, boot32, DOMID } from './boot-domain32.ts';

const GUEST_DIR = fileURLToPath(new URL('./guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
const SHUTDOWN_poweroff = 0;
const SHUTDOWN_crash = 3;
const CR4_PAE = 1 << 5;
const EFER_LMA = 1 << 10;

let dir = '';
const elf = (name: string): string => join(dir, `${name}.elf`);

/** Runs until the vCPU shuts down (or `slices` budgets pass), collecting every result. */
function runToEnd(d: Booted32, slices = 100, budget = 100_000): number[] {
  const results: number[] = [];
  for (let i = 0; i < slices; i++) {
    const r = d.vcpu.run(budget);
    results.push(r);
    if (r === PV_RUN.SHUTDOWN) break;
  }
  return results;
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

describe.skipIf(!haveNasm && !process.env.CI)(
  'a 32-bit PAE PV guest on the PV vCPU (nasm-built, xen-3.0-x86_32p)',
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'pv-boot32-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
    });

    it('boots through the toolstack builder and the MMU and runs every hypercall family it exercises to the expected console output', () => {
      const d = boot32(elf('pv32-hello'));
      expect(d.pinRc).toBe(0);
      const results = runToEnd(d);
      expect(results).toContain(PV_RUN.YIELD);
      expect(results.at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(d.vcpu.crash).toBeNull();
      expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_poweroff]]);
      expect(d.console()).toBe(
        [
          'Typevisor 32-bit PV guest: hello from ring 1 through int 0x82',
          'and through the hypercall page',
          'gs 0x0000e033', // DS/ES/FS = FLAT_RING1_DS and GS = FLAT_RING3_DS32 load from Xen's GDT
          'vm_assist pae_extended_cr3 -> 0x00000000',
          'xen_version 0x00040011', // (4 << 16) | 17
          'extraversion .0-typevisor',
          'platform_parameters virt_start 0xf5800000', // HYPERVISOR_COMPAT_VIRT_START
          'start_info xen-3.0-x86_32p',
          'hypercall 99 -> 0xffffffda', // -ENOSYS
          'console_io unmapped buffer -> 0xfffffff2', // -EFAULT
          'console_io Xen-area buffer -> 0xfffffff2', // -EFAULT: the hole starts at 0xF5800000
          'extraversion into the read-only L3 -> 0xfffffff2', // -EFAULT
          `m2p[p2m[start_info]] ${hex(d.layout.startInfoPfn)}`, // the compat M2P reads back
          'map shared_info -> 0x00000000',
          'set_trap_table -> 0x00000000',
          'caught #PF, error code 0x00000002', // not present, write, supervisor (ring 1)
          'cr2 0x7fff0000', // vcpu_info[0].arch.cr2 (offset 8 for x86_32)
          'cs 0x0001e019', // FLAT_RING1_CS with the saved upcall mask (1) in bits 16-23
          'resumed after the fault',
          'int 0x80 handler',
          'back from int 0x80, eax 0x00001234', // iret returns the saved EAX
          'bind_ipi port 0x00000003', // after the xenstore (1) and console (2) ports
          'event upcall, pending 0x00000008', // port 3 in 32-bit evtchn_pending[0]
          'back from the upcall',
          'mmuext_op pin+baseptr+unpin -> 0x00000000',
          'done 0x00000003',
          'pin again -> 0xffffffea', // -EINVAL: already pinned
          'mmu_update alias -> 0x00000000',
          'alias reads xen-3.0-x86_32p',
          // Privileged instructions in ring 1 #GP to the hypervisor, which emulates these.
          'cr0.ts after fpu_taskswitch(1) 0x00000008',
          'cr0.ts after clts 0x00000000',
          'mov cr2 0x7fff0000',
          `mov cr3 ${hex(d.cpu.cr3)}`, // the guest's own L3 (below 4 GiB: plain MFN << 12)
          'cr3 reload and wbinvd emulated',
          'multicall says hi', // entry 0 runs console_io
          'multicall -> 0x00000000',
          'mc[0] console_io -> 0x00000000',
          'mc[1] xen_version -> 0x00040011',
          'mc[2] nested multicall -> 0xffffffea', // -EINVAL
          'yield -> 0x00000000',
          // HYPERVISOR_iret to ring 3 (FLAT_RING3_CS32/DS32); the user's int 0x80 (trap_info
          // DPL 3) bounces to ring 1 on the stack_switch stack with ESP and SS in the frame.
          'ds after ring 3 0x00000000', // nulled by the return to ring 3; the kernel reloads it
          'int 0x80 from ring 3, eax 0x00000055',
          'user cs 0x0000e02b', // events unmasked by then: saved mask 0
          'user ss 0x0000e033',
          'user esp 0x00109000',
          'kernel esp - stack_top 0xffffffec', // five dwords: EIP, CS, EFLAGS, ESP, SS
          'shutting down',
          '',
        ].join('\n'),
      );
      expect(d.cpu.cpl).toBe(1); // back in the kernel, which shut down
      // Nothing runs after the shutdown.
      expect(d.vcpu.run(1000)).toBe(PV_RUN.SHUTDOWN);
      expect(d.shutdowns.length).toBe(1);
    });

    it('starts the kernel in ring 1 on Xen flat compat segments with PAE paging and fills the 32-bit hypercall page', () => {
      const d = boot32(elf('pv32-hello'));
      const cpu = d.cpu;
      expect(cpu.cpl).toBe(1);
      expect(cpu.segSel[1]).toBe(0xe019); // CS
      for (const s of [0, 2, 3, 4, 5]) expect(cpu.segSel[s]).toBe(0xe021);
      expect(cpu.segAttr[1]).toBe(0xc0bb); // 0x00cfbb000000ffff: DPL 1 code, 32-bit, 4 GiB
      expect(cpu.segAttr[2]).toBe(0xc0b3); // 0x00cfb3000000ffff: DPL 1 data
      expect(cpu.cr4 & CR4_PAE).toBe(CR4_PAE);
      expect(cpu.efer & EFER_LMA).toBe(0);
      expect(cpu.cr3).toBe(d.layout.vcpu.topLevelMfn * 4096);
      expect(cpu.lo[6]).toBe(Number(d.layout.vcpu.rsi)); // ESI = start_info
      const pfn = d.layout.hypercallPagePfn ?? -1;
      const page = d.machine.memory.readFrame(d.machine.p2m(DOMID).get(pfn));
      const want = new Uint8Array(4096);
      fillHypercallPage32(want);
      expect(page).toEqual(want);
      // mov $18,%eax; int $0x82; ret — and the iret slot pushes EAX first and never returns.
      expect([...page.subarray(18 * 32, 18 * 32 + 8)]).toEqual([
        0xb8, 18, 0, 0, 0, 0xcd, 0x82, 0xc3,
      ]);
      expect([...page.subarray(23 * 32, 23 * 32 + 8)]).toEqual([
        0x50, 0xb8, 23, 0, 0, 0, 0xcd, 0x82,
      ]);
      expect(d.vcpu.run(50)).toBe(PV_RUN.BUDGET);
    });

    it("leaves the guest on the L3 it pinned itself, with Xen's compat M2P slot in the new PAE Xen L2", () => {
      const d = boot32(elf('pv32-hello'));
      const oldL3 = d.layout.vcpu.topLevelMfn;
      runToEnd(d);
      expect(d.vcpu.crash).toBeNull();
      const newL3 = d.cpu.cr3 / 4096;
      expect(newL3).not.toBe(oldL3);
      const ft = d.machine.frames;
      expect(ft.pinned[newL3]).toBe(1);
      expect(ft.pinned[oldL3]).toBe(0);
      expect(ft.owner[newL3]).toBe(DOMID);
      // Entries 4..511 of a validated PAE L3 are not used; slot 3 points at the fresh L2, whose
      // slot 428 (VA 0xF5800000) Xen filled with the M2P mapping.
      const l2x = (d.machine.memory.read32(newL3, 24) >>> 12) & 0xfffff;
      expect(l2x).toBeGreaterThan(0);
      expect(d.machine.memory.read32(l2x, 428 * 8)).toBe(d.mm.xenL2Entries[0]);
    });

    it('crashes only the faulting domain when its ring-1 kernel takes a page fault it has no handler for', () => {
      const d = boot32(elf('pv32-crash-pf'));
      const other = boot32(elf('pv32-hello'));
      expect(runToEnd(d).at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_crash]]);
      expect(d.vcpu.crash?.code).toBe(14);
      expect(d.vcpu.crash?.errorCode).toBe(2);
      expect(d.vcpu.crash?.cr2).toBe(0x7fff0000);
      expect(runToEnd(other).at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(other.shutdowns).toEqual([[DOMID, SHUTDOWN_poweroff]]);
    });

    it('faults a privileged instruction in ring 1 (cli with IOPL 0) to the hypervisor as #GP and crashes the domain without a handler', () => {
      const d = boot32(elf('pv32-crash-gp'));
      expect(runToEnd(d).at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_crash]]);
      expect(d.vcpu.crash?.code).toBe(13);
      expect(d.vcpu.crash?.errorCode).toBe(0);
      expect(d.console()).toContain('hello from ring 1');
    });

    it('turns an int n the trap table does not allow into #GP(n << 3 | 2) at the instruction', () => {
      const d = boot32(elf('pv32-int-gp'));
      expect(runToEnd(d).at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(d.vcpu.crash?.code).toBe(13);
      expect(d.vcpu.crash?.errorCode).toBe((0x81 << 3) | 2);
      const rip = d.vcpu.crash?.rip ?? 0;
      const mfn = d.machine.p2m(DOMID).get(Math.floor(rip / 4096));
      // The reported EIP is the `int $0x81` itself (cd 81).
      expect(d.machine.memory.read8(mfn, rip % 4096)).toBe(0xcd);
      expect(d.machine.memory.read8(mfn, (rip % 4096) + 1)).toBe(0x81);
    });

    it("loads only Xen's GDT entries by selector: an empty guest GDT slot is #GP(selector), and no descriptor the guest wrote is ever used", () => {
      const d = boot32(elf('pv32-bad-sel'));
      expect(d.cpu.gdtBase).toBe(0xffe00000);
      expect(d.cpu.gdtLimit).toBe(0xefff); // LAST_RESERVED_GDT_BYTE, as Xen loads it
      expect(d.cpu.idtLimit).toBe(0); // no IDT: every int n is intercepted
      // A descriptor-shaped value at the guest's own linear 0x10 changes nothing.
      const mfn0 = d.machine.p2m(DOMID).get(0);
      d.machine.memory.write32(mfn0, 0x10, 0x0000ffff);
      d.machine.memory.write32(mfn0, 0x14, 0x00cf9300);
      expect(runToEnd(d).at(-1)).toBe(PV_RUN.SHUTDOWN);
      expect(d.vcpu.crash?.code).toBe(13);
      expect(d.vcpu.crash?.errorCode).toBe(0x10);
      expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_crash]]);
    });

    it('saves at a yield and resumes on a fresh CPU from JSON state, finishing the same run', () => {
      const d = boot32(elf('pv32-hello'));
      let r: number = PV_RUN.BUDGET;
      while (r !== PV_RUN.YIELD) r = d.vcpu.run(10_000);
      const saved = JSON.parse(JSON.stringify({ cpu: d.cpu.getState(), vcpu: d.vcpu.getState() }));
      expect(saved.vcpu.trapTable).toEqual([
        { vector: 14, flags: 0, cs: 0xe019, eip: expect.any(Number) },
        { vector: 0x80, flags: 3, cs: 0xe019, eip: expect.any(Number) },
      ]);
      expect(saved.vcpu.eventCallback.cs).toBe(0xe019);
      const cpu = X86Cpu.fromState(saved.cpu, {
        memory: new MachinePhysicalMemory(d.machine.memory),
        intercepts: PV32_INTERCEPTS,
      });
      const resumed = Pv32Vcpu.fromState(saved.vcpu, { ...d.vcpuOptions, cpu });
      expect(resumed.getState()).toEqual(d.vcpu.getState());
      while (r !== PV_RUN.SHUTDOWN) r = resumed.run(10_000);
      expect(resumed.crash).toBeNull();
      expect(d.shutdowns).toEqual([[DOMID, SHUTDOWN_poweroff]]);
      expect(d.console()).toContain(
        'yield -> 0x00000000\nds after ring 3 0x00000000\nint 0x80 from ring 3',
      );
      expect(d.console().endsWith('shutting down\n')).toBe(true);
    });

    it('round-trips a fresh vCPU (no callbacks, no traps) through JSON state unchanged', () => {
      const d = boot32(elf('pv32-spin'));
      const saved = JSON.parse(JSON.stringify(d.vcpu.getState()));
      expect(saved.eventCallback).toEqual({ cs: 0, eip: 0 });
      expect(Pv32Vcpu.fromState(saved, d.vcpuOptions).getState()).toEqual(d.vcpu.getState());
    });

    it('returns to the embedder when the budget runs out on a spinning guest', () => {
      const d = boot32(elf('pv32-spin'));
      for (let i = 0; i < 5; i++) expect(d.vcpu.run(10_000)).toBe(PV_RUN.BUDGET);
      expect(d.shutdowns).toEqual([]);
    });
  },
);
