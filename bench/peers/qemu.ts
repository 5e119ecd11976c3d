/**
 * QEMU TCG as a benchmark peer: boots a multiboot guest with `qemu-system-x86_64 -kernel`
 * and times the run. Start-up cost is removed by timing two iteration counts and dividing
 * the difference in instructions by the difference in time.
 */
import { spawnSync } from 'node:child_process';
import { type GuestSpec, guestImage } from './guests.ts';

/** Wall time in seconds of one QEMU run of `guest` with `iterations`. */
export function qemuRunSeconds(guest: GuestSpec, iterations: number): number {
  const image = guestImage(guest, iterations);
  const t0 = performance.now();
  const r = spawnSync(
    'qemu-system-x86_64',
    [
      ...[
        '-accel',
        'tcg',
        '-cpu',
        'max',
        '-m',
        '128',
        '-display',
        'none',
        '-nographic',
        '-no-reboot',
      ],
      ...['-serial', 'none', '-monitor', 'none', '-net', 'none'],
      ...['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-kernel', image],
    ],
    { timeout: 300_000, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const seconds = (performance.now() - t0) / 1000;
  if (r.error) throw new Error(`qemu: ${r.error.message}`);
  // isa-debug-exit: writing 0 exits with status (0 << 1) | 1 = 1.
  if (r.status !== 1)
    throw new Error(`qemu exited with ${r.status}: ${r.stderr.toString().trim()}`);
  return seconds;
}

/** Millions of guest instructions per second under QEMU TCG, by the two-point method. */
export function qemuMips(guest: GuestSpec, small: number, large: number): number {
  const t1 = qemuRunSeconds(guest, small);
  const t2 = qemuRunSeconds(guest, large);
  return ((large - small) * guest.instructionsPerIteration) / (t2 - t1) / 1e6;
}
