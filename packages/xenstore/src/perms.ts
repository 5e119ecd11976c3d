/**
 * Node permissions in Xen's format: a list whose first entry names the owner and the
 * default access for everybody else, and whose further entries grant specific domains.
 *
 * @see xen/include/public/io/xs_wire.h, tools/libs/store/xs.c (`xs_strings_to_perms`)
 * @module
 */

/** Permission bits (`enum xs_perm_type`). */
export const XsPermBits = {
  /** `XS_PERM_NONE`. */
  XS_PERM_NONE: 0,
  /** `XS_PERM_READ`. */
  XS_PERM_READ: 1,
  /** `XS_PERM_WRITE`. */
  XS_PERM_WRITE: 2,
  /** `XS_PERM_OWNER`: only ever computed, never stored. */
  XS_PERM_OWNER: 8,
} as const;

/** One permission entry: a domain id and its `XS_PERM_READ | XS_PERM_WRITE` bits. */
export interface XsPerm {
  /** Domain id (a signed 32-bit value, as xenstored prints it). */
  readonly id: number;
  /** Access bits: 0 none, 1 read, 2 write, 3 both. */
  readonly perm: number;
}

const LETTERS = 'nrwb';

/** Formats one entry as `<letter><domid>` (`n0`, `r5`, `b3`). */
export function formatPerm(p: XsPerm): string {
  return `${LETTERS[p.perm & 3]}${p.id | 0}`;
}

const INT_RE = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/;

/**
 * Parses one entry like `xs_strings_to_perms()`: a letter `n`/`r`/`w`/`b` then an integer
 * in C `strtol(…, 0)` syntax (decimal, `0x` hex or `0` octal), stored as its low 32 bits.
 * Returns `undefined` for anything else.
 */
export function parsePerm(s: string): XsPerm | undefined {
  const perm = LETTERS.indexOf(s.charAt(0));
  if (perm < 0 || s.length < 2) return undefined;
  const m = INT_RE.exec(s.slice(1));
  if (!m) return undefined;
  const digits = m[2] as string;
  let v: bigint;
  if (digits.length > 2 && (digits[1] === 'x' || digits[1] === 'X')) v = BigInt(digits);
  else if (digits.length > 1 && digits[0] === '0') v = BigInt(`0o${digits.slice(1)}`);
  else v = BigInt(digits);
  if (m[1] === '-') v = -v;
  const max = (1n << 63n) - 1n;
  if (v > max) v = max;
  if (v < -max - 1n) v = -max - 1n;
  return { id: Number(BigInt.asIntN(32, v)), perm };
}

/** Parses a list of entries; `undefined` if the list is empty or any entry is invalid. */
export function parsePerms(strings: readonly string[]): XsPerm[] | undefined {
  if (strings.length === 0) return undefined;
  const out: XsPerm[] = [];
  for (const s of strings) {
    const p = parsePerm(s);
    if (!p) return undefined;
    out.push(p);
  }
  return out;
}

/** Who is asking: the facts `perm_for_conn()` looks at. */
export interface PermSubject {
  /** The connection's domain id. */
  readonly domid: number;
  /** Privileged connections (dom0, the socket) bypass all checks. */
  readonly privileged: boolean;
  /** The domain this one acts for (`XS_SET_TARGET`), if any. */
  readonly target: number | undefined;
}

/**
 * xenstored's `perm_for_conn()`: the access bits `who` has on a node with `perms`,
 * including `XS_PERM_OWNER` for the owner, its target's owner, and privileged callers.
 */
export function permFor(who: PermSubject, perms: readonly XsPerm[]): number {
  const owner = perms[0];
  if (owner === undefined) return 0;
  if (
    who.privileged ||
    owner.id === who.domid ||
    (who.target !== undefined && owner.id === who.target)
  ) {
    return XsPermBits.XS_PERM_READ | XsPermBits.XS_PERM_WRITE | XsPermBits.XS_PERM_OWNER;
  }
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i] as XsPerm;
    if (p.id === who.domid || (who.target !== undefined && p.id === who.target)) return p.perm;
  }
  return owner.perm;
}
