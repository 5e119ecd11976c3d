/**
 * v86 (npm `v86`) as a benchmark peer, in this process: its interpreter (`disable_jit`) and
 * its x86-to-wasm JIT. v86 boots the multiboot guest through SeaBIOS (Debian's
 * `/usr/share/seabios/bios.bin`); the guest's 'D' on the UART ends the run. Instructions
 * come from v86's own counter, so no count is assumed; start-up is removed by the two-point
 * method as for QEMU. v86 emulates a 32-bit CPU only.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type GuestSpec, guestBytes } from './guests.ts';

const SEABIOS = '/usr/share/seabios/bios.bin';

interface V86Emulator {
  add_listener(event: string, fn: (arg: number) => void): void;
  run(): Promise<void> | void;
  /** Internal: v86's machine, used to replace its isa-debug-exit port (see below). */
  v86: { cpu: { io: { register_write(port: number, owner: object, w8: () => void): void } } };
  stop(): Promise<void> | void;
  destroy(): Promise<void> | void;
  get_instruction_counter(): number;
}

/** One v86 run: seconds from start to the guest's exit byte, and instructions executed. */
export async function v86Run(
  guest: GuestSpec,
  iterations: number,
  jit: boolean,
): Promise<{ seconds: number; instructions: number }> {
  const { V86 } = (await import('v86')) as unknown as { V86: new (opts: object) => V86Emulator };
  const wasm = join(dirname(createRequire(import.meta.url).resolve('v86')), 'v86.wasm');
  const image = guestBytes(guest, iterations);
  const bios = readFileSync(SEABIOS);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const emu = new V86({
      wasm_path: wasm,
      memory_size: 128 * 1024 * 1024,
      multiboot: {
        buffer: image.buffer.slice(image.byteOffset, image.byteOffset + image.byteLength),
      },
      bios: { buffer: bios.buffer.slice(bios.byteOffset, bios.byteOffset + bios.byteLength) },
      autostart: false,
      disable_jit: !jit,
    });
    // v86 implements port 0xF4 as a test hook that throws out of its run loop; the guest's
    // 'D' on the UART already ends the measurement, so make the exit write a no-op.
    emu.add_listener('emulator-loaded', () => {
      emu.v86.cpu.io.register_write(0xf4, {}, () => {});
      void emu.run();
    });
    const timer = setTimeout(
      () => reject(new Error('v86: guest did not finish in 300 s')),
      300_000,
    );
    emu.add_listener('serial0-output-byte', (byte) => {
      if (byte !== 0x44) return;
      const seconds = (performance.now() - t0) / 1000;
      const instructions = emu.get_instruction_counter();
      clearTimeout(timer);
      Promise.resolve(emu.destroy()).then(
        () => resolve({ seconds, instructions }),
        () => resolve({ seconds, instructions }),
      );
    });
  });
}

/** Millions of guest instructions per second under v86, by the two-point method. */
export async function v86Mips(
  guest: GuestSpec,
  small: number,
  large: number,
  jit: boolean,
): Promise<number> {
  const a = await v86Run(guest, small, jit);
  const b = await v86Run(guest, large, jit);
  return (b.instructions - a.instructions) / (b.seconds - a.seconds) / 1e6;
}
