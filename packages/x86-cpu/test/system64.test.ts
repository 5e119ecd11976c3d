import { describe, expect, it } from 'vitest';
import { EXIT, MSR, SEG } from '../src/index.ts';
import { asm, CODE, flatSeg, runToHlt, setup } from './helpers.ts';

/** Writes a 64-bit IDT gate for `vector` at `idt` pointing at `target` (selector 0x08). */
function gate64(
  cpu: ReturnType<typeof setup>['cpu'],
  idt: number,
  vector: number,
  target: number,
  dpl = 0,
  ist = 0,
): void {
  const m = cpu.memory;
  const a = idt + vector * 16;
  m.write32(a, (0x08 << 16) | (target & 0xffff));
  m.write32(a + 4, (target & 0xffff0000) | 0x8e00 | (dpl << 13) | ist);
  m.write32(a + 8, 0);
  m.write32(a + 12, 0);
}

/** A 64-bit GDT: null, kernel code 0x08, kernel data 0x10, (STAR layout) user data 0x1b, user code 0x23, TSS 0x28. */
function gdt64(cpu: ReturnType<typeof setup>['cpu'], gdt: number, tss: number): void {
  const m = cpu.memory;
  const q = (i: number, lo: number, hi: number) => {
    m.write32(gdt + i * 8, lo);
    m.write32(gdt + i * 8 + 4, hi);
  };
  q(0, 0, 0);
  q(1, 0xffff, 0x00af9a00);
  q(2, 0xffff, 0x00cf9200);
  q(3, 0xffff, 0x00cff200);
  q(4, 0xffff, 0x00affa00);
  q(5, ((tss & 0xffff) << 16) | 0x67, (tss & 0xff000000) | 0x8900 | ((tss >> 16) & 0xff));
  q(6, 0, 0);
  cpu.gdtBase = gdt;
  cpu.gdtLimit = 7 * 8 - 1;
}

describe('long mode', () => {
  it('enters long mode from 32-bit protected mode with EFER.LME, CR4.PAE and CR0.PG, then runs 64-bit code', () => {
    const code = asm(
      `bits 32
  mov eax, 0x70000
  mov cr3, eax
  mov eax, cr4
  or eax, 0x20
  mov cr4, eax
  mov ecx, 0xc0000080
  rdmsr
  or eax, 0x100
  wrmsr
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  lgdt [gdtr]
  jmp 0x08:lm
gdt: dq 0, 0x00af9a000000ffff
gdtr: dw 15
  dd gdt
bits 64
lm:
  mov rbx, 0x1122334455667788
  mov ecx, 0xc0000080
  rdmsr
  hlt`,
      32,
      CODE,
    );
    const { cpu } = setup('prot32', code);
    // Identity map for the 64-bit part (the helper builds it only for 'long64').
    const m = cpu.memory;
    m.write32(0x70000, 0x71003);
    m.write32(0x71000, 0x72003);
    m.write32(0x72000, 0x83);
    runToHlt(cpu);
    expect(cpu.mode64).toBe(true);
    expect(cpu.lo[0] & 0x500).toBe(0x500); // LME and LMA read back
    expect([cpu.hi[3], cpu.lo[3]]).toEqual([0x11223344, 0x55667788]);
  });

  it('SYSCALL to the LSTAR entry and SYSRET back to ring 3 with SWAPGS and the FS/GS base MSRs', () => {
    const code = asm(
      `
  ; ring 0 setup: STAR, LSTAR, FMASK, EFER.SCE already set by the test
  mov rcx, user
  mov r11, 0x202
  o64 sysret
user:
  mov rax, 60
  syscall
  mov r12, rax
  xor eax, eax
  syscall
entry:
  test rax, rax
  jz stop
  swapgs
  mov r13, [gs:8]
  swapgs
  mov r14, rcx
  mov r15, r11
  mov rax, 99
  o64 sysret
stop:
  hlt
`,
      64,
      CODE,
    );
    const { cpu, ram } = setup('long64', code);
    gdt64(cpu, 0x60000, 0x61000);
    const entry = CODE + code.indexOf(0x0f, code.length - 40); // located below
    void entry;
    const labels = findLabel(code);
    cpu.writeMsr(MSR.IA32_STAR, 0, 0x08 | (0x10 << 16) | 0);
    cpu.writeMsr(MSR.IA32_LSTAR, CODE + labels.entry, 0);
    cpu.writeMsr(MSR.IA32_FMASK, 0x200, 0);
    cpu.writeMsr(MSR.IA32_KERNEL_GS_BASE, 0x50000, 0);
    ram.write32(0x50008, 0xabcdef);
    cpu.efer |= 1;
    // Pages must allow ring-3 access (the helper's 2 MiB pages are user pages).
    cpu.run(100);
    expect(cpu.exit.reason).toBe(EXIT.HLT);
    expect(cpu.cpl).toBe(0);
    expect(cpu.lo[12]).toBe(99);
    expect(cpu.lo[13]).toBe(0xabcdef);
    expect(cpu.getReg64(14)).toBe(CODE + labels.afterSyscall);
    expect(cpu.lo[15] & 0x200).toBe(0x200);
    expect(cpu.segSel[SEG.CS]).toBe(0x08);
    expect(cpu.segSel[SEG.SS]).toBe(0x10);
  });

  it('a ring-3 page fault is delivered through a 64-bit IDT gate on the TSS RSP0 stack with SS:RSP pushed', () => {
    const code = asm(
      `
  push 0x1b
  push 0x30000
  push 0x2
  push 0x23
  push user
  iretq
user:
  mov rax, [0x40000000]
  hlt
pf:
  mov rsi, [rsp]
  mov rdi, cr2
  mov rbx, rsp
  mov rcx, [rsp + 16]
  mov rdx, [rsp + 40]
  hlt
`,
      64,
      CODE,
    );
    const { cpu } = setup('long64', code);
    gdt64(cpu, 0x60000, 0x61000);
    cpu.memory.write32(0x61000 + 4, 0x90000); // RSP0
    cpu.segSel[SEG.TR] = 0x28;
    cpu.segBase[SEG.TR] = 0x61000;
    cpu.segLimit[SEG.TR] = 0x67;
    cpu.segAttr[SEG.TR] = 0x8b;
    cpu.idtBase = 0x62000;
    cpu.idtLimit = 0xfff;
    gate64(cpu, 0x62000, 14, CODE + findLabel(code).pf);
    runToHlt(cpu);
    expect(cpu.lo[6]).toBe(4 | 0); // user read of a not-present page
    expect(cpu.getReg64(7)).toBe(0x40000000);
    expect(cpu.getReg64(3)).toBe(0x90000 - 48); // error code + 5 qwords
    expect(cpu.lo[1]).toBe(0x23); // saved CS
    expect(cpu.lo[2]).toBe(0x1b); // saved SS
    expect(cpu.cpl).toBe(0);
  });

  it('a non-canonical address is #GP(0)', () => {
    const code = asm(
      'mov rax, 0x0000800000000000\nmov rbx, [rax]\nhlt\ngp:\nmov rsi, [rsp]\nhlt',
      64,
      CODE,
    );
    const { cpu } = setup('long64', code);
    gdt64(cpu, 0x60000, 0x61000);
    cpu.idtBase = 0x62000;
    cpu.idtLimit = 0xfff;
    gate64(cpu, 0x62000, 13, CODE + code.length - 5);
    runToHlt(cpu);
    expect(cpu.lo[6]).toBe(0);
  });

  it('NX pages fault on instruction fetch with the I/D bit (error code 0x11)', () => {
    const code = asm('jmp rax\npf:\nmov rsi, [rsp]\nmov rdi, cr2\nhlt', 64, CODE);
    const { cpu } = setup('long64', code);
    gdt64(cpu, 0x60000, 0x61000);
    cpu.idtBase = 0x62000;
    cpu.idtLimit = 0xfff;
    gate64(cpu, 0x62000, 14, CODE + 2);
    // Make the 2 MiB page at 2 MiB execute-disable.
    cpu.memory.write32(0x72000 + 8 + 4, 0x80000000 | 0);
    cpu.setReg64(0, 0x200000);
    runToHlt(cpu);
    expect(cpu.lo[6]).toBe(0x11);
    expect(cpu.getReg64(7)).toBe(0x200000);
  });

  it('FS/GS segment overrides add the base MSRs', () => {
    const code = asm('mov rax, [fs:0x10]\nmov rbx, [gs:0x10]\nhlt', 64, CODE);
    const { cpu, ram } = setup('long64', code);
    cpu.writeMsr(MSR.IA32_FS_BASE, 0x30000, 0);
    cpu.writeMsr(MSR.IA32_GS_BASE, 0x31000, 0);
    ram.write32(0x30010, 5);
    ram.write32(0x31010, 6);
    runToHlt(cpu);
    expect(cpu.lo[0]).toBe(5);
    expect(cpu.lo[3]).toBe(6);
    flatSeg(cpu, SEG.FS, 0, 0xc093);
  });
});

/** Finds labels by assembling markers: returns offsets of known labels via a second assembly. */
function findLabel(code: Uint8Array): Record<string, number> {
  // The tests place labels right after distinctive opcodes; locate them by pattern.
  const out: Record<string, number> = {};
  const find = (pattern: number[], from = 0) => {
    for (let i = from; i <= code.length - pattern.length; i++) {
      if (pattern.every((b, j) => code[i + j] === b)) return i;
    }
    return -1;
  };
  // `entry` starts with test rax, rax = 48 85 C0
  out.entry = find([0x48, 0x85, 0xc0]);
  // syscall = 0F 05; the return address follows it
  out.afterSyscall = find([0x0f, 0x05]) + 2;
  // `pf:` starts with mov rsi, [rsp] = 48 8B 34 24
  out.pf = find([0x48, 0x8b, 0x34, 0x24]);
  return out;
}
