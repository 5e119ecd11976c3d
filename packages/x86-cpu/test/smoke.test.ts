import { describe, expect, it } from 'vitest';
import { exec } from './helpers.ts';

describe('smoke', () => {
  it('runs a real-mode loop that sums 1..10', () => {
    const { cpu } = exec('real', 'xor ax, ax\nmov cx, 10\nl: add ax, cx\nloop l');
    expect(cpu.lo[0] & 0xffff).toBe(55);
  });
  it('runs 32-bit code with a call and memory', () => {
    const { cpu } = exec(
      'prot32',
      'mov dword [0x3000], 7\ncall f\njmp done\nf: add dword [0x3000], 5\nmov eax, [0x3000]\nret\ndone:',
    );
    expect(cpu.lo[0]).toBe(12);
  });
  it('runs 64-bit code with REX and RIP-relative data', () => {
    const { cpu } = exec(
      'long64',
      'mov rax, 0x123456789\nadd rax, [rel v]\nmov r9, rax\njmp done\nv: dq 0x100000000\ndone:',
    );
    expect(cpu.getReg64(9)).toBe(0x223456789);
  });
});
