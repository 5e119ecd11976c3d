/**
 * Decode-information bits derived from the opcode table, packed in one int32 per opcode.
 */

/** @internal Has a ModRM byte. */
export const MODRM = 1;
/** @internal ModRM.reg selects the handler (a group). */
export const GROUP = 2;
/** @internal Default 64-bit operand size in long mode (SDM "d64"/"f64"). */
export const D64 = 4;
/** @internal Invalid in 64-bit mode (SDM "i64"). */
export const I64 = 8;

/** @internal Immediate kinds (bits 8..15 of the decode info). */
export const IMM = {
  /** No immediate. */ None: 0,
  /** imm8, sign-extended. */ Ib: 1,
  /** imm16. */ Iw: 2,
  /** imm16/32 by operand size (imm32 sign-extended for 64-bit). */ Iz: 3,
  /** imm16/32/64 by operand size (MOV r, imm). */ Iv: 4,
  /** rel8. */ Jb: 5,
  /** rel16/32. */ Jz: 6,
  /** ptr16:16/32 far pointer. */ Ap: 7,
  /** moffs by address size. */ Ov: 8,
  /** imm16 then imm8 (ENTER). */ IwIb: 9,
  /** F6 group: imm8 for TEST only. */ Grp3b: 10,
  /** F7 group: immz for TEST only. */ Grp3v: 11,
} as const;
