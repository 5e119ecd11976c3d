/**
 * Typevisor's CPU model on the benchmark guests, through `typevisor bare` in this process
 * (the same machine the CLI runs: RAM, a 16550 UART and isa-debug-exit). Instructions come
 * from the model's own count (`--stats`); start-up is removed by the two-point method, as for
 * the peers.
 */
import { type CliIo, runCli } from '@typevisor/toolstack';
import { type GuestSpec, guestImage } from './guests.ts';

/** One run: seconds of wall time and guest instructions retired. */
export async function typevisorRun(
  guest: GuestSpec,
  iterations: number,
): Promise<{ seconds: number; instructions: number }> {
  let err = '';
  const io: CliIo = {
    stdout: () => undefined,
    stderr: (t) => {
      err += t;
    },
    env: {},
    cwd: process.cwd(),
  };
  const t0 = performance.now();
  const status = await runCli(
    ['bare', '--multiboot', guestImage(guest, iterations), '--memory', '128', '--stats'],
    io,
  );
  const seconds = (performance.now() - t0) / 1000;
  const instructions = Number(/instructions: (\d+)/.exec(err)?.[1]);
  // The guests exit through isa-debug-exit with 0: status (0 << 1) | 1.
  if (status !== 1 || !Number.isFinite(instructions))
    throw new Error(`typevisor bare failed (${status}): ${err.trim()}`);
  return { seconds, instructions };
}

/** Millions of guest instructions per second on Typevisor's CPU model, by the two-point method. */
export async function typevisorMips(
  guest: GuestSpec,
  small: number,
  large: number,
): Promise<number> {
  const a = await typevisorRun(guest, small);
  const b = await typevisorRun(guest, large);
  return (b.instructions - a.instructions) / (b.seconds - a.seconds) / 1e6;
}
