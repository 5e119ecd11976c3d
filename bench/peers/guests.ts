/**
 * The benchmark guests in `bench/guests/*.asm`, assembled with nasm on demand into
 * `bench/.cache/` (one image per guest and iteration count). Each guest is a multiboot v1
 * image that exits through the UART ('D') and isa-debug-exit when done.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const guestsDir = join(here, '..', 'guests');
const cacheDir = join(here, '..', '.cache');

/** What a guest executes, for turning wall time into instructions per second. */
export interface GuestSpec {
  /** File name under `bench/guests/` without `.asm`. */
  readonly name: 'compute32' | 'compute64' | 'tlbmiss32';
  /** Guest instructions per ITERATIONS step (counted from the source, checked with v86's counter). */
  readonly instructionsPerIteration: number;
  /** Page walks per ITERATIONS step (tlbmiss32 only). */
  readonly walksPerIteration?: number;
}

/** The 32-bit compute loop: 2 + 64 × 11 + 2 instructions per outer turn. */
export const COMPUTE32: GuestSpec = { name: 'compute32', instructionsPerIteration: 708 };
/** The 64-bit compute loop: the same shape as compute32. */
export const COMPUTE64: GuestSpec = { name: 'compute64', instructionsPerIteration: 708 };
/** The forced-TLB-miss sweep: 8 blocks × (1024 touches × 4 + 4 + 3) + 5 per sweep. */
export const TLBMISS32: GuestSpec = {
  name: 'tlbmiss32',
  instructionsPerIteration: 8 * (1024 * 4 + 3 + 4) + 4,
  walksPerIteration: 8192,
};

/** Assembles `guest` with `ITERATIONS=iterations` (cached) and returns the image path. */
export function guestImage(guest: GuestSpec, iterations: number): string {
  mkdirSync(cacheDir, { recursive: true });
  const out = join(cacheDir, `${guest.name}-${iterations}.bin`);
  if (!existsSync(out)) {
    execFileSync('nasm', [
      '-f',
      'bin',
      `-I${guestsDir}/`,
      `-DITERATIONS=${iterations}`,
      '-o',
      out,
      join(guestsDir, `${guest.name}.asm`),
    ]);
  }
  return out;
}

/** Reads an assembled guest image. */
export function guestBytes(guest: GuestSpec, iterations: number): Uint8Array {
  return readFileSync(guestImage(guest, iterations));
}
