/** Runs differential programs on QEMU and on the model. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT, FlatRam, X86Cpu } from '../../src/index.ts';
import { BODY } from './program.ts';

const dir = mkdtempSync(join(tmpdir(), 'x86-diff-'));

/** Assembles a full nasm source to a flat binary. */
export function assemble(source: string): Uint8Array {
  const src = join(dir, `p${process.pid}-${Date.now()}.asm`);
  const out = `${src}.bin`;
  writeFileSync(src, source);
  execFileSync('nasm', ['-f', 'bin', '-o', out, src]);
  return new Uint8Array(readFileSync(out));
}

/** Boots `image` on QEMU TCG (`-cpu cpu`) and returns what it wrote to port 0xE9. */
export function runQemu(image: Uint8Array, cpu = 'max'): Uint8Array {
  const img = join(dir, `q${process.pid}-${Date.now()}.img`);
  const out = `${img}.out`;
  writeFileSync(img, image);
  writeFileSync(out, '');
  try {
    execFileSync(
      'qemu-system-x86_64',
      [
        '-accel',
        'tcg',
        '-cpu',
        cpu,
        '-m',
        '16',
        '-display',
        'none',
        '-nodefaults',
        '-no-reboot',
        '-drive',
        `format=raw,file=${img},if=ide`,
        '-debugcon',
        `file:${out}`,
        '-device',
        'isa-debug-exit,iobase=0xf4,iosize=4',
      ],
      { timeout: 60_000, stdio: 'ignore' },
    );
  } catch (e) {
    // isa-debug-exit makes QEMU exit with status (0 << 1) | 1 = 1.
    if ((e as { status?: number }).status !== 1) throw e;
  }
  return new Uint8Array(readFileSync(out));
}

/** Runs `image` on the model (loaded at 0x7C00, started at the body) and returns the port 0xE9 bytes. */
export function runModel(image: Uint8Array): Uint8Array {
  const ram = new FlatRam(1 << 20);
  ram.load(0x7c00, image);
  const cpu = X86Cpu.create({ memory: ram });
  for (const s of [0, 1, 2, 3]) cpu.loadSegReal(s, 0);
  cpu.rip = BODY;
  cpu.lo[4] = 0x7000;
  const out: number[] = [];
  for (;;) {
    const r = cpu.run(1_000_000);
    if (r === EXIT.IO_OUT) {
      if (cpu.exit.port === 0xe9) out.push(cpu.exit.value & 0xff);
      else if (cpu.exit.port === 0xf4) break;
      continue;
    }
    throw new Error(
      `model stopped with exit ${r} at 0x${cpu.rip.toString(16)} (vector ${cpu.exit.vector})`,
    );
  }
  return Uint8Array.from(out);
}
