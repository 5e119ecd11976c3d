import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXIT, FlatRam, X86Cpu } from '../src/index.ts';
import { flatSeg } from './helpers.ts';

/** Loads the PT_LOAD segments of an ELF32 image and returns its entry point. */
function loadElf32(image: Uint8Array, ram: FlatRam): number {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const phoff = dv.getUint32(28, true);
  for (let i = 0; i < dv.getUint16(44, true); i++) {
    const ph = phoff + i * dv.getUint16(42, true);
    if (dv.getUint32(ph, true) !== 1) continue;
    const off = dv.getUint32(ph + 4, true);
    const paddr = dv.getUint32(ph + 12, true);
    ram.load(paddr, image.subarray(off, off + dv.getUint32(ph + 16, true)));
  }
  return dv.getUint32(24, true);
}

/** Runs a multiboot kernel as a multiboot loader would hand it over; returns its UART output. */
function runKernel(image: Uint8Array): { serial: string; status: number; instructions: number } {
  const ram = new FlatRam(32 << 20);
  const entry = loadElf32(image, ram);
  ram.write32(0x9000, 1);
  ram.write32(0x9004, 639);
  ram.write32(0x9008, (31 << 20) / 1024);
  const cpu = X86Cpu.create({ memory: ram });
  cpu.cr0 |= 1;
  for (const s of [0, 2, 3, 4, 5]) flatSeg(cpu, s, 0x10, 0xc093);
  flatSeg(cpu, 1, 0x08, 0xc09b);
  cpu.updateMode();
  cpu.rip = entry;
  cpu.setReg(32, 0, 0x2badb002, 0);
  cpu.setReg(32, 3, 0x9000, 0);
  let serial = '';
  for (;;) {
    const r = cpu.run(10_000_000);
    if (r === EXIT.IO_OUT && cpu.exit.port === 0x3f8) serial += String.fromCharCode(cpu.exit.value);
    else if (r === EXIT.IO_OUT && cpu.exit.port === 0xf4) {
      return { serial, status: ((cpu.exit.value << 1) | 1) & 0xff, instructions: cpu.instructions };
    } else if (r === EXIT.IO_IN) cpu.completeIoIn(cpu.exit.port === 0x3fd ? 0x60 : 0);
    else throw new Error(`unexpected exit ${r} at 0x${cpu.rip.toString(16)}`);
  }
}

function haveQemu(): boolean {
  try {
    execFileSync('qemu-system-i386', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const KERNELS = [
  { dir: 'multiboot-kernel', qemu: 'qemu-system-i386', what: '32-bit code' },
  {
    dir: 'multiboot-kernel64',
    qemu: 'qemu-system-x86_64',
    what: '64-bit code entered through its own long-mode switch',
  },
];

for (const k of KERNELS) {
  const dir = new URL(`./vectors/${k.dir}/`, import.meta.url);
  describe(`a GCC-compiled multiboot kernel, ${k.what} (test/vectors/${k.dir})`, () => {
    const image = new Uint8Array(readFileSync(new URL('kernel.elf', dir)));

    it('prints exactly what it prints under QEMU (CRC32, recursion, switch tables, 64-bit arithmetic, division)', () => {
      const want = readFileSync(new URL('qemu-serial.txt', dir), 'utf8');
      const got = runKernel(image);
      expect(got.serial).toBe(want);
      expect(got.status).toBe(0x21);
      expect(got.instructions).toBeGreaterThan(100_000);
    });

    it.skipIf(!haveQemu() && !process.env.CI)('and a live QEMU run of the same ELF agrees', () => {
      let out = '';
      try {
        out = execFileSync(
          k.qemu,
          [
            '-accel',
            'tcg',
            '-cpu',
            'max',
            '-display',
            'none',
            '-nodefaults',
            '-no-reboot',
            '-kernel',
            new URL('kernel.elf', dir).pathname,
            '-serial',
            'stdio',
            '-device',
            'isa-debug-exit,iobase=0xf4,iosize=4',
          ],
          { encoding: 'utf8', timeout: 60_000 },
        );
      } catch (e) {
        const err = e as { status?: number; stdout?: string };
        if (err.status !== 33) throw e;
        out = err.stdout ?? '';
      }
      expect(runKernel(image).serial).toBe(out);
    });
  });
}
