/**
 * TSC scaling as Xen does it: a 32.32 fixed-point multiplier and a power-of-two shift that turn
 * TSC ticks into nanoseconds, chosen by `set_time_scale`, applied by `scale_delta`, and published
 * to guests in `vcpu_time_info.tsc_to_system_mul` / `tsc_shift`.
 *
 * Cold-path code: BigInt keeps the 64×32-bit products exact.
 *
 * @see xen/arch/x86/time.c (set_time_scale, scale_delta)
 * @see xen/include/public/xen.h (struct vcpu_time_info)
 */
import { HypervisorError } from '../errors.ts';

/** A TSC-to-nanoseconds scale: `ns = ((ticks << shift) * mul) >> 32` (negative shift = right). */
export interface TimeScale {
  /** 32.32 fixed-point multiplier (tsc_to_system_mul), 0 < mul < 2^32. */
  readonly mul: number;
  /** Shift applied to the tick count first (tsc_shift), -31..31. */
  readonly shift: number;
}

const NS_PER_SEC = 1_000_000_000n;

/**
 * Xen's set_time_scale: the scale for a counter running at `ticksPerSec` Hz (the shift keeps the
 * shifted rate in (10^9, 2·10^9], the multiplier is 10^9·2^32 / that rate).
 */
export function timeScaleFor(ticksPerSec: number): TimeScale {
  if (!Number.isSafeInteger(ticksPerSec) || ticksPerSec <= 0) {
    throw new HypervisorError(
      'INVALID_ARGUMENT',
      `ticksPerSec must be a positive safe integer, got ${ticksPerSec}`,
    );
  }
  let tps = BigInt(ticksPerSec);
  let shift = 0;
  while (tps > 2n * NS_PER_SEC) {
    tps >>= 1n;
    shift--;
  }
  while (tps <= NS_PER_SEC) {
    tps <<= 1n;
    shift++;
  }
  return { mul: Number((NS_PER_SEC << 32n) / tps), shift };
}

/** Xen's scale_delta: nanoseconds for `delta` ticks (a non-negative bigint) under `scale`. */
export function scaleDelta(delta: bigint, scale: TimeScale): bigint {
  const shifted = scale.shift < 0 ? delta >> BigInt(-scale.shift) : delta << BigInt(scale.shift);
  return (shifted * BigInt(scale.mul)) >> 32n;
}

/** The counter frequency a guest derives from a scale: ((10^9 << 32) / mul) >> shift (Hz). */
export function frequencyOf(scale: TimeScale): number {
  const f = (NS_PER_SEC << 32n) / BigInt(scale.mul);
  return Number(scale.shift < 0 ? f << BigInt(-scale.shift) : f >> BigInt(scale.shift));
}
