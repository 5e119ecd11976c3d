import { HypervisorError } from '../../errors.ts';

/**
 * Formats a value from untrusted input for an error message. Template interpolation would
 * call a hostile object's `toString` (or fail on `{ toString: 0 }` with a TypeError); this
 * never throws.
 */
export function show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined)
    return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v;
}

/** Throws the error a malformed saved state deserves. */
export function badState(scheduler: string, why: string): never {
  throw new HypervisorError('INVALID_ARGUMENT', `${scheduler} state: ${why}`);
}

/** Reads a finite number field from saved state. */
export function num(scheduler: string, o: unknown, key: string): number {
  const v = typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
  if (typeof v !== 'number' || !Number.isFinite(v))
    badState(scheduler, `${key} is not a finite number`);
  return v;
}

/** Reads a number-or-null field (a timer expiry) from saved state. */
export function numOrNull(scheduler: string, o: unknown, key: string): number | null {
  const v = typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v))
    badState(scheduler, `${key} is not a number or null`);
  return v;
}

/** Reads an array field from saved state. */
export function arr(scheduler: string, o: unknown, key: string): unknown[] {
  const v = typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
  if (!Array.isArray(v)) badState(scheduler, `${key} is not an array`);
  return v;
}

/** Reads a `[domid, vcpuId]` pair. */
export function pair(scheduler: string, v: unknown): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !Number.isInteger(v[0]) || !Number.isInteger(v[1])) {
    badState(scheduler, 'bad [domid, vcpuId] pair');
  }
  return [v[0] as number, v[1] as number];
}

/** True for an integer in `[lo, hi]`. */
export function isIntIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}
