/**
 * MIPS of a compute-loop guest on the x86-cpu interpreter: loads and stores into a 4 KiB
 * array, ALU and IMUL, a call/ret and conditional branches. The 32-bit variant runs in
 * protected mode with 2-level paging (one 4 MiB PSE page), the 64-bit one in long mode with
 * 4-level paging (2 MiB pages). Each `run(iters)` retires exactly `iters` guest instructions.
 *
 * Guest source (nasm, `bits 32`, org 0x1000; the 64-bit build is the same with rsi/rbx):
 *   mov esi, 0x100000 / xor ebx, ebx / xor edx, edx
 *   top: mov eax, [esi+ebx*4] / add eax, edx / imul eax, eax, 33 / mov [esi+ebx*4], eax
 *        inc ebx / and ebx, 1023 / call f / cmp ebx, 512 / jne skip / xor edx, 1
 *   skip: jmp top
 *   f: add edx, eax / shr edx, 1 / ret
 */
import { FlatRam, X86Cpu } from '@typevisor/x86-cpu';
import { defineSuite } from '../harness.ts';

const GUEST32 =
  'be0000100031db31d28b049e01d06bc02189049e4381e3ff030000e80d00000081fb00020000750383f201ebdc01c2d1eac3';
const GUEST64 =
  'be0000100031db31d28b049e01d06bc02189049effc381e3ff030000e80d00000081fb00020000750383f201ebdb01c2d1eac3';

function flat(cpu: X86Cpu, seg: number, attr: number): void {
  cpu.segSel[seg] = seg === 1 ? 0x08 : 0x10;
  cpu.segBase[seg] = 0;
  cpu.segLimit[seg] = -1;
  cpu.segAttr[seg] = attr;
}

function makeCpu(long: boolean): X86Cpu {
  const ram = new FlatRam(4 << 20);
  ram.load(0x1000, Uint8Array.from(Buffer.from(long ? GUEST64 : GUEST32, 'hex')));
  const cpu = X86Cpu.create({ memory: ram });
  if (long) {
    ram.write32(0x70000, 0x71007);
    ram.write32(0x71000, 0x72007);
    ram.write32(0x72000, 0x87);
    ram.write32(0x72008, 0x200087);
    cpu.cr4 = 0x20;
    cpu.cr3 = 0x70000;
    cpu.efer = 0xd01;
  } else {
    ram.write32(0x70000, 0x87); // one 4 MiB page
    cpu.cr4 = 0x10;
    cpu.cr3 = 0x70000;
  }
  cpu.cr0 = 0x80000011 | 0;
  for (const s of [0, 2, 3, 4, 5]) flat(cpu, s, 0xc093);
  flat(cpu, 1, long ? 0xa09b : 0xc09b);
  cpu.rip = 0x1000;
  cpu.lo[4] = 0x9000;
  cpu.updateMode();
  cpu.flushTlb();
  return cpu;
}

const cpu32 = makeCpu(false);
const cpu64 = makeCpu(true);

export default defineSuite({
  name: 'x86-cpu/compute',
  description:
    'Guest MIPS of a load/store/ALU/call/branch loop on the interpreter: 32-bit protected mode with paging, and 64-bit long mode.',
  unit: 'MIPS',
  divisor: 1e6,
  cases: [
    {
      name: 'typevisor-32',
      run(iters) {
        cpu32.run(iters);
        return cpu32.lo[3] ?? 0;
      },
    },
    {
      name: 'typevisor-64',
      run(iters) {
        cpu64.run(iters);
        return cpu64.lo[3] ?? 0;
      },
    },
  ],
});
