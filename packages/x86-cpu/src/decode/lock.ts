/**
 * Which instructions accept a LOCK prefix: the read-modify-write forms with a memory
 * destination of ADD, ADC, AND, BTC, BTR, BTS, CMPXCHG, CMPXCHG8B/16B, DEC, INC, NEG, NOT, OR,
 * SBB, SUB, XOR, XADD and XCHG. LOCK on anything else, or on a register destination, is #UD.
 * @see Intel SDM Vol. 2B "LOCK—Assert LOCK# Signal Prefix"
 */

/** Bit per (opcode << 3 | ModRM.reg): 1 where LOCK is allowed with a memory operand. */
const LOCKABLE: Uint8Array = /* @__PURE__ */ (() => {
  const t = new Uint8Array(0x400 * 8);
  const all = (op: number) => t.fill(1, op << 3, (op << 3) + 8);
  const one = (op: number, reg: number) => {
    t[(op << 3) | reg] = 1;
  };
  // ADD/OR/ADC/SBB/AND/SUB/XOR Eb,Gb and Ev,Gv (not CMP).
  for (let k = 0; k < 7; k++) {
    all(k << 3);
    all((k << 3) + 1);
  }
  // Group 1 /0../6 (not /7 CMP).
  for (const op of [0x80, 0x81, 0x82, 0x83]) for (let r = 0; r < 7; r++) one(op, r);
  all(0x86);
  all(0x87);
  // NOT, NEG; INC, DEC.
  for (const op of [0xf6, 0xf7]) {
    one(op, 2);
    one(op, 3);
  }
  for (const op of [0xfe, 0xff]) {
    one(op, 0);
    one(op, 1);
  }
  // BTS, BTR, BTC; BT group /5../7; CMPXCHG; XADD; CMPXCHG8B/16B.
  for (const op of [0x1ab, 0x1b3, 0x1bb, 0x1b0, 0x1b1, 0x1c0, 0x1c1]) all(op);
  for (let r = 5; r < 8; r++) one(0x1ba, r);
  one(0x1c7, 1);
  return t;
})();

/** @internal True when a LOCK prefix is allowed on opcode `op` with ModRM fields `mod`/`reg`. */
export function lockAllowed(op: number, mod: number, reg: number): boolean {
  return mod !== 3 && op < 0x400 && LOCKABLE[(op << 3) | (reg & 7)] === 1;
}
