import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/index.ts';
import { asm, CODE, exec, runToHlt, setup } from './helpers.ts';

describe('real mode', () => {
  it('INT n goes through the IVT, pushing FLAGS, CS and IP, and IRET returns', () => {
    const { cpu } = exec(
      'real',
      `
  mov word [0x40 * 4], handler
  mov word [0x40 * 4 + 2], 0
  sti
  mov ax, 1
  int 0x40
  mov bx, ax
  pushf
  pop dx
  jmp done
handler:
  mov bp, sp
  mov cx, [bp + 4]
  pushf
  pop si
  add ax, 41
  iret
done:`,
    );
    expect(cpu.lo[3] & 0xffff).toBe(42);
    expect(cpu.lo[1] & 0x200).toBe(0x200); // the pushed FLAGS had IF set
    expect(cpu.lo[6] & 0x200).toBe(0); // the handler ran with IF clear
    expect(cpu.lo[2] & 0x200).toBe(0x200); // IRET restored IF
  });

  it('divide error is delivered through IVT vector 0 with the faulting IP', () => {
    const { cpu } = exec(
      'real',
      `
  mov word [0], handler
  mov word [2], 0
  xor cl, cl
  mov ax, 5
fault:
  div cl
  jmp done
handler:
  mov bp, sp
  mov si, [bp]
  mov word [bp], done
  iret
done:`,
    );
    expect(cpu.memory.read8(cpu.lo[6] & 0xffff)).toBe(0xf6); // DIV r/m8
  });

  it('far CALL and RETF switch CS with base = selector << 4', () => {
    const { cpu } = exec(
      'real',
      `
  call 0x0100:(far_target - 0x1000)
  mov bx, cs
  jmp done
far_target:
  mov ax, cs
  mov dx, 0x1234
  retf
done:`,
    );
    expect(cpu.lo[0] & 0xffff).toBe(0x100);
    expect(cpu.lo[3] & 0xffff).toBe(0);
    expect(cpu.lo[2] & 0xffff).toBe(0x1234);
  });

  it('enters 32-bit protected mode with LGDT, CR0.PE and a far jump, then reloads data segments', () => {
    const code = asm(
      `
  lgdt [gdtr]
  mov eax, cr0
  or eax, 1
  mov cr0, eax
  jmp 0x08:pm
gdt: dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
gdtr: dw 23
  dd gdt
bits 32
pm:
  mov ax, 0x10
  mov ds, ax
  mov ss, ax
  mov esp, 0x8000
  mov dword [0x100000], 0xcafe
  mov ebx, [0x100000]
  hlt`,
      16,
      CODE,
    );
    const { cpu } = setup('real', code);
    runToHlt(cpu);
    expect(cpu.protectedMode).toBe(true);
    expect(cpu.defSize).toBe(32);
    expect(cpu.lo[3]).toBe(0xcafe);
  });

  it('the reset state starts at F000:FFF0 (linear 0xFFFFFFF0) and unbacked fetches are not RAM', () => {
    const { cpu } = setup('real', asm('hlt', 16, CODE));
    cpu.reset();
    expect(cpu.segSel[1]).toBe(0xf000);
    expect(cpu.segBase[1] + cpu.rip).toBe(0xfffffff0);
    expect(cpu.run(1)).not.toBe(EXIT.TRIPLE_FAULT);
  });

  it('TF raises a single-step #DB trap after each instruction, with the next IP pushed', () => {
    const { cpu } = exec(
      'real',
      `
  mov word [4], dbg
  mov word [6], 0
  xor cx, cx
  pushf
  pop ax
  or ax, 0x100
  push ax
  popf
  nop
  nop
  nop
  pushf
  pop ax
  and ax, 0xfeff
  push ax
  popf
  jmp done
dbg:
  inc cx
  iret
done:`,
    );
    // Traps after: nop, nop, nop, pushf, pop, and, push, popf (TF still set when it started).
    expect(cpu.lo[1] & 0xffff).toBe(8);
    expect(cpu.dr[6] & 0x4000).toBe(0x4000);
  });
});
