/**
 * Argument helpers shared by the request handlers, mirroring xenstored's parsing.
 * @module
 */
import { bytesToBinary } from '../wire/codec.ts';

/** The first string of a payload: bytes up to the first NUL, or all bytes if there is none. */
export function firstArg(payload: Uint8Array): string {
  const nul = payload.indexOf(0);
  return bytesToBinary(nul < 0 ? payload : payload.subarray(0, nul));
}

/** Number of NUL bytes in the payload (xenstored's `xs_count_strings`/`get_strings` count). */
export function countStrings(payload: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < payload.length; i++) if (payload[i] === 0) n++;
  return n;
}

/** C `atoi()`: optional blanks and sign, then decimal digits; 0 if none; low 32 bits. */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  // glibc: (int) strtol(s, NULL, 10), where strtol saturates at the 64-bit limits.
  let v = BigInt(m[1] as string);
  const max = (1n << 63n) - 1n;
  if (v > max) v = max;
  else if (v < -max - 1n) v = -max - 1n;
  return Number(BigInt.asIntN(32, v));
}

/** Encodes an ASCII string plus a terminating NUL. */
export function strz(s: string): Uint8Array {
  const out = new Uint8Array(s.length + 1);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** `OK\0`, the acknowledgement payload. */
export const OK: Uint8Array = strz('OK');
