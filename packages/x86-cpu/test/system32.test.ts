import { describe, expect, it } from 'vitest';
import { EXIT, VECTOR } from '../src/index.ts';
import { asm, CODE, runToHlt, setup } from './helpers.ts';

/**
 * A 32-bit protected-mode prelude: GDT (ring 0 and ring 3 flat code/data, a TSS), an IDT
 * whose gates are listed in `gates` as [vector, handler label, type/attr byte], LGDT/LIDT/LTR,
 * and a far jump to reload CS. Code continues at `main`.
 */
function prelude(gates: [number, string, number][]): string {
  const at = (l: string) => `(${l} - $$ + 0x${CODE.toString(16)})`;
  const idt = Array.from({ length: 256 }, (_, v) => {
    const g = gates.find((x) => x[0] === v);
    if (g === undefined) return '  dq 0';
    const off = at(g[1]);
    return `  dw ${off} & 0xffff, 0x08\n  db 0, 0x${g[2].toString(16)}\n  dw ${off} >> 16`;
  }).join('\n');
  return `
  lgdt [gdtr]
  jmp 0x08:.reload
.reload:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov esp, 0x9000
  lidt [idtr]
  mov ax, 0x28
  ltr ax
  jmp main
align 8
gdt:
  dq 0
  dq 0x00cf9a000000ffff
  dq 0x00cf92000000ffff
  dq 0x00cffa000000ffff
  dq 0x00cff2000000ffff
  dw 0x67, ${at('tss')} & 0xffff
  db (${at('tss')} >> 16) & 0xff, 0x89, 0, ${at('tss')} >> 24
  dq 0x00cfba000000ffff
  dq 0x00cfb2000000ffff
  dq 0
gdt_end:
gdtr: dw gdt_end - gdt - 1
  dd ${at('gdt')}
idtr: dw 256 * 8 - 1
  dd ${at('idt')}
align 4
tss:
  dd 0, 0x8000, 0x10, 0x7800, 0x39, 0, 0
  times 104 - ($ - tss) db 0
align 8
idt:
${idt}
main:
`;
}

function run32(source: string, opts: Parameters<typeof setup>[2] = {}) {
  const env = setup('prot32', asm(source, 32, CODE), opts, 4 << 20);
  return env;
}

describe('32-bit protected mode: gates, TSS and privilege transitions', () => {
  it('IRET to ring 3, INT 0x80 through a DPL 3 gate switches to the TSS ring-0 stack, and HLT at ring 3 is #GP(0)', () => {
    const { cpu } = run32(`${prelude([
      [0x80, 'int80', 0xee],
      [13, 'gp', 0x8e],
    ])}
  push 0x23
  push 0x6000
  push 0x2
  push 0x1b
  push user
  iret
user:
  mov eax, 42
  int 0x80
  mov ecx, 7
  hlt
int80:
  mov ebx, esp
  mov edx, [esp + 4]
  mov ebp, [esp + 12]
  iret
gp:
  pop esi
  mov edi, [esp + 4]
  hlt
`);
    runToHlt(cpu);
    expect(cpu.lo[3]).toBe(0x8000 - 20); // EBX: SS, ESP, EFLAGS, CS, EIP on the ring-0 stack
    expect(cpu.lo[2]).toBe(0x1b); // EDX: the saved CS is the ring-3 selector
    expect(cpu.lo[5]).toBe(0x6000); // EBP: the saved ring-3 ESP
    expect(cpu.lo[1]).toBe(7); // ECX: IRET returned to ring 3
    expect(cpu.lo[6]).toBe(0); // ESI: #GP error code 0
    expect(cpu.lo[7]).toBe(0x1b); // EDI: faulting CS
    expect(cpu.cpl).toBe(0);
  });

  it('a ring-1 kernel (Xen PV style) uses the TSS SS1:ESP1 stack and int 0x82 can exit to the embedder', () => {
    const { cpu } = run32(
      `${prelude([[0x81, 'h81', 0xee]])}
  push 0x39
  push 0x5000
  push 0x2
  push 0x31
  push ring1
  iret
ring1:
  mov eax, 3
  int 0x82
  mov ebx, 0x1234
  int 0x81
  jmp $
h81:
  mov ecx, esp
  mov edx, [esp + 4]
  hlt
`,
      { intercepts: { softwareInterrupts: [0x82] } },
    );
    expect(cpu.run(1000)).toBe(EXIT.SOFTWARE_INTERRUPT);
    expect(cpu.exit.vector).toBe(0x82);
    expect(cpu.cpl).toBe(1);
    expect(cpu.lo[0]).toBe(3);
    expect(cpu.exit.instructionLength).toBe(2);
    // The embedder handles the hypercall, sets a return value and resumes after the INT.
    cpu.lo[0] = -38;
    runToHlt(cpu);
    expect(cpu.lo[3]).toBe(0x1234);
    expect(cpu.lo[1]).toBe(0x8000 - 20); // ring-1 → ring-0 switch uses ESP0
    expect(cpu.lo[2]).toBe(0x31);
  });

  it('INT n through a DPL 0 gate from ring 3 is #GP with the IDT error code (vector*8+2)', () => {
    const { cpu } = run32(`${prelude([
      [0x40, 'never', 0x8e],
      [13, 'gp', 0x8e],
    ])}
  push 0x23
  push 0x6000
  push 0x2
  push 0x1b
  push user
  iret
user:
  int 0x40
never:
  mov eax, 0xdead
  hlt
gp:
  pop esi
  hlt
`);
    runToHlt(cpu);
    expect(cpu.lo[6]).toBe(0x40 * 8 + 2);
    expect(cpu.lo[0]).not.toBe(0xdead);
  });

  it('IRET to ring 3 nulls DS when it holds a ring-0 data segment, so a data access is #GP(0)', () => {
    const { cpu } = run32(`${prelude([[13, 'gp', 0x8e]])}
  push 0x23
  push 0x6000
  push 0x2
  push 0x1b
  push user
  iret
user:
  mov ebx, ds
  mov eax, [0x3000]
  hlt
gp:
  pop esi
  hlt
`);
    runToHlt(cpu);
    expect(cpu.lo[3] & 0xffff).toBe(0);
    expect(cpu.lo[6]).toBe(0);
  });

  it('loading a ring-0 data segment at ring 3 raises #GP(selector)', () => {
    const { cpu } = run32(`${prelude([[13, 'gp', 0x8e]])}
  push 0x23
  push 0x6000
  push 0x2
  push 0x1b
  push user
  iret
user:
  mov ax, 0x10
  mov ds, ax
  hlt
gp:
  pop esi
  hlt
`);
    runToHlt(cpu);
    expect(cpu.lo[6]).toBe(0x10);
  });

  it('DIV by zero raises #DE with the faulting instruction as the return address', () => {
    const { cpu } = run32(`${prelude([[0, 'de', 0x8e]])}
  xor ebx, ebx
  mov eax, 5
fault:
  div ebx
  hlt
de:
  mov esi, [esp]
  hlt
`);
    runToHlt(cpu);
    const src = cpu.lo[6] >>> 0;
    expect(src).toBeGreaterThan(CODE);
    // The saved EIP points at the DIV (2 bytes: F7 F3).
    expect(cpu.memory.read8(src)).toBe(0xf7);
    expect(cpu.memory.read8(src + 1)).toBe(0xf3);
  });

  it('an injected external interrupt wakes HLT and is delivered through the IDT when IF=1', () => {
    const { cpu } = run32(`${prelude([[0x30, 'irq', 0x8e]])}
  sti
  hlt
  mov ebx, 2
  hlt
irq:
  mov eax, 1
  iret
`);
    expect(cpu.run(1000)).toBe(EXIT.HLT);
    cpu.injectInterrupt(0x30);
    runToHlt(cpu);
    expect(cpu.lo[0]).toBe(1);
    expect(cpu.lo[3]).toBe(2);
  });

  it('a fault with no usable IDT escalates to #DF and then to a triple-fault exit', () => {
    const { cpu } = setup('prot32', asm('lidt [idtr]\nud2\nidtr: dw 0\ndd 0', 32, CODE));
    expect(cpu.run(100)).toBe(EXIT.TRIPLE_FAULT);
  });

  it('the exception bitmap turns #UD into an EXCEPTION exit before delivery, with RIP at the instruction', () => {
    const { cpu } = setup('prot32', asm('nop\nud2', 32, CODE), {
      intercepts: { exceptionBitmap: 1 << VECTOR.UD },
    });
    expect(cpu.run(100)).toBe(EXIT.EXCEPTION);
    expect(cpu.exit.vector).toBe(VECTOR.UD);
    expect(cpu.rip).toBe(CODE + 1);
  });
});

describe('call gates', () => {
  it('a far CALL from ring 3 through a DPL 3 call gate switches to the ring-0 stack and copies parameters; RETF n returns', () => {
    const { cpu } = run32(`${prelude([[0x80, 'fin', 0xee]])}
  mov eax, gatefn
  mov word [gdt + 0x40], ax
  mov word [gdt + 0x42], 0x08
  mov word [gdt + 0x44], 0xec02
  shr eax, 16
  mov word [gdt + 0x46], ax
  push 0x23
  push 0x6000
  push 0x2
  push 0x1b
  push user
  iret
user:
  push dword 0x1111
  push dword 0x2222
  call 0x43:0
  mov ebp, esp
  int 0x80
gatefn:
  mov eax, [esp + 4]
  mov ebx, [esp + 8]
  mov ecx, [esp + 12]
  mov edx, [esp + 16]
  mov esi, [esp + 20]
  mov edi, esp
  retf 8
fin:
  hlt
`);
    runToHlt(cpu);
    expect(cpu.lo[0]).toBe(0x1b); // the caller's CS
    expect(cpu.lo[3]).toBe(0x2222); // first copied parameter (the last one pushed)
    expect(cpu.lo[1]).toBe(0x1111);
    expect(cpu.lo[2]).toBe(0x6000 - 8); // the caller's ESP
    expect(cpu.lo[6]).toBe(0x23); // the caller's SS
    expect(cpu.lo[7]).toBe(0x8000 - 24); // ring-0 stack: SS, ESP, 2 params, CS, EIP
    expect(cpu.lo[5]).toBe(0x6000); // RETF 8 released the parameters on the caller's stack
  });
});

describe('hardware task switches', () => {
  it('CALL to a TSS nests a task (NT, back link, busy bits) and IRET returns to the caller task', () => {
    const { cpu } = run32(`${prelude([])}
  mov eax, tss2
  mov word [gdt + 0x40], 0x67
  mov word [gdt + 0x42], ax
  shr eax, 16
  mov byte [gdt + 0x44], al
  mov byte [gdt + 0x45], 0x89
  mov byte [gdt + 0x46], 0
  mov byte [gdt + 0x47], ah
  mov eax, 0xaaaa
  mov ebx, 0xbbbb
  call 0x40:0
  mov ecx, [result]
  mov edx, [result + 4]
  mov esi, [gdt + 0x44]
  pushfd
  pop edi
  hlt
taskb:
  mov dword [result], 0x1234
  str ax
  movzx eax, ax
  mov [result + 4], eax
  mov ebx, [tss2]
  mov [result + 8], ebx
  iret
align 4
result: dd 0, 0, 0
tss2:
  dd 0, 0x8000, 0x10, 0, 0, 0, 0, 0
  dd taskb, 0x2
  dd 0, 0, 0, 0, 0x7000, 0, 0, 0
  dd 0x10, 0x08, 0x10, 0x10, 0x10, 0x10
  dd 0, 0
`);
    runToHlt(cpu);
    expect(cpu.lo[0]).toBe(0xaaaa); // task A's registers came back from its TSS
    expect(cpu.lo[3]).toBe(0xbbbb);
    expect(cpu.lo[1]).toBe(0x1234); // task B ran
    expect(cpu.lo[2]).toBe(0x40); // with TR = the new TSS
    expect((cpu.lo[6] >> 8) & 0x0f).toBe(0x9); // task B is no longer busy after the return
    expect(cpu.lo[7] & 0x4000).toBe(0); // task A's NT is clear
    expect(cpu.segSel[7]).toBe(0x28);
    expect(cpu.memory.read32(cpu.segBase[7] + 0) >>> 0).toBe(0); // A's back link untouched
    expect(cpu.cr0 & 8).toBe(8); // CR0.TS set by the switch
  });
});

describe('double fault through a task gate (as i386 Linux sets it up)', () => {
  it('a #NP during #NP delivery becomes #DF, delivered by a task switch with error code 0', () => {
    const { cpu } = run32(`${prelude([])}
  mov eax, tss2
  mov word [gdt + 0x40], 0x67
  mov word [gdt + 0x42], ax
  shr eax, 16
  mov byte [gdt + 0x44], al
  mov byte [gdt + 0x45], 0x89
  mov byte [gdt + 0x46], 0
  mov byte [gdt + 0x47], ah
  mov word [idt + 8 * 8 + 2], 0x40
  mov byte [idt + 8 * 8 + 5], 0x85
  mov ebp, 0x5555
  int 0x30
  hlt
taskb:
  pop esi
  mov edi, esp
  str bx
  hlt
align 4
tss2:
  dd 0, 0x8000, 0x10, 0, 0, 0, 0, 0
  dd taskb, 0x2
  dd 0, 0, 0, 0, 0x7000, 0, 0, 0
  dd 0x10, 0x08, 0x10, 0x10, 0x10, 0x10
  dd 0, 0
`);
    runToHlt(cpu);
    expect(cpu.lo[6]).toBe(0); // #DF error code
    expect(cpu.lo[7]).toBe(0x7000); // the error code was pushed on the new task's stack
    expect(cpu.lo[3] & 0xffff).toBe(0x40);
    expect(cpu.lo[5]).toBe(0); // EBP came from the new task's TSS
    expect(cpu.getRflags() & 0x4000).toBe(0x4000); // nested task
  });
});

describe('virtual-8086 mode', () => {
  it('IRET enters v8086 mode; sensitive instructions trap to the ring-0 monitor with the v8086 frame; IRET resumes', () => {
    const { cpu } = run32(`${prelude([[13, 'gp', 0x8e]])}
  xor ebp, ebp
  push dword 0x0000
  push dword 0x0000
  push dword 0x0300
  push dword 0x0400
  push dword 0x0200
  push dword 0x0ffe
  push dword 0x00020002
  push dword 0x0100
  push dword v86code - $$
  iret
gp:
  inc ebp
  mov esi, [esp + 4]
  mov edi, [esp + 8]
  mov ebx, [esp + 12]
  mov ecx, [esp + 24]
  mov edx, [esp + 28]
  cmp ebp, 2
  je .stop
  add dword [esp + 4], 1
  add esp, 4
  iret
.stop:
  hlt
bits 16
v86code:
  mov ax, ds
  mov word [0x10], 0xbeef
  cli
  mov bx, [0x10]
  int 0x21
`);
    runToHlt(cpu);
    expect(cpu.lo[5]).toBe(2); // two traps
    expect(cpu.lo[7]).toBe(0x100); // saved CS is the v8086 segment
    expect(cpu.lo[3] & 0x20000).toBe(0x20000); // saved EFLAGS has VM
    expect(cpu.lo[1]).toBe(0x400); // saved ES
    expect(cpu.lo[2]).toBe(0x300); // saved DS
    // DS:0x10 in v8086 mode is linear 0x3010.
    expect(cpu.memory.read16(0x3010)).toBe(0xbeef);
    expect(cpu.segSel[3]).toBe(0); // data segments were nulled on entry to ring 0
    expect(cpu.cpl).toBe(0);
  });
});

describe('LAR, LSL, VERR, VERW', () => {
  it('answer with ZF and never fault on the selector, honouring DPL and descriptor types', () => {
    const { cpu } = run32(`${prelude([[0x80, 'done', 0xee]])}
  lar eax, [tss_sel]
  setz dl
  push 0x23
  push 0x6000
  push 0x2
  push 0x1b
  push user
  iret
user:
  mov cx, 0x23
  lsl ebp, cx
  setz dh
  mov cx, 0x10
  lar esi, cx
  setz cl
  mov di, 0x1b
  verr di
  setz ch
  verw di
  setz ah
  mov di, 0x23
  verw di
  setz al
  mov di, 0x7ff8
  lsl esi, di
  setnz bl
  int 0x80
done:
  hlt
tss_sel: dw 0x28
`);
    runToHlt(cpu);
    // Ring 0: LAR of the busy TSS (type 0xB, P, DPL 0).
    expect(cpu.lo[2] & 0xff).toBe(1);
    expect(cpu.lo[5] >>> 0).toBe(0xffffffff); // LSL of the flat user data segment
    expect((cpu.lo[2] >> 8) & 0xff).toBe(1);
    expect(cpu.lo[1] & 0xff).toBe(0); // LAR of ring-0 data from ring 3 fails
    expect((cpu.lo[1] >> 8) & 0xff).toBe(1); // VERR of readable user code
    expect((cpu.lo[0] >> 8) & 0xff).toBe(0); // VERW of code fails
    expect(cpu.lo[0] & 0xff).toBe(1); // VERW of writable user data
    expect(cpu.lo[3] & 0xff).toBe(1); // a selector past the GDT limit: ZF=0, no fault
  });
});

describe('SYSENTER/SYSEXIT', () => {
  it('SYSENTER enters ring 0 at IA32_SYSENTER_EIP/ESP and SYSEXIT returns to ring 3 at EDX with ESP = ECX', () => {
    const { cpu } = run32(`${prelude([])}
  mov ecx, 0x174
  xor edx, edx
  mov eax, 0x08
  wrmsr
  mov ecx, 0x175
  mov eax, 0x7000
  wrmsr
  mov ecx, 0x176
  mov eax, kentry
  wrmsr
  mov edx, user
  mov ecx, 0x6000
  sysexit
user:
  mov ebx, esp
  mov esi, cs
  sysenter
kentry:
  mov edi, esp
  mov ebp, cs
  hlt
`);
    runToHlt(cpu);
    expect(cpu.lo[3]).toBe(0x6000);
    expect(cpu.lo[6] & 0xffff).toBe(0x1b);
    expect(cpu.lo[7]).toBe(0x7000);
    expect(cpu.lo[5] & 0xffff).toBe(0x08);
    expect(cpu.cpl).toBe(0);
  });
});

describe('32-bit paging', () => {
  const PD = 0x20000;
  const PT = 0x21000;
  const paging = (body: string, gates: [number, string, number][]) => `${prelude(gates)}
  mov edi, ${PT}
  mov eax, 7
.fill:
  mov [edi], eax
  add eax, 0x1000
  add edi, 4
  cmp edi, ${PT + 4096}
  jne .fill
  mov dword [${PD}], ${PT | 7}
  mov dword [${PT + 5 * 4}], 0
  mov dword [${PT + 6 * 4}], 0x6005
  mov eax, ${PD}
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
${body}`;

  it('a not-present page raises #PF with error code 0 and CR2; the handler maps it and the access restarts', () => {
    const { cpu, ram } = run32(
      paging(
        `
  mov dword [0x5010], 0x99
  mov eax, [0x5010]
  hlt
pf:
  pop esi
  mov edi, cr2
  mov dword [${PT + 5 * 4}], 0x5003
  invlpg [0x5000]
  iret
`,
        [[14, 'pf', 0x8e]],
      ),
    );
    runToHlt(cpu);
    expect(cpu.lo[6]).toBe(2); // write to a not-present page, supervisor
    expect(cpu.lo[7]).toBe(0x5010);
    expect(cpu.lo[0]).toBe(0x99);
    // Accessed and dirty bits were set in the PTE.
    expect(ram.read32(PT + 5 * 4) & 0x60).toBe(0x60);
  });

  it('CR0.WP makes supervisor writes to read-only pages fault with error code 3', () => {
    const { cpu } = run32(
      paging(
        `
  mov dword [0x6000], 1
  mov eax, cr0
  or eax, 0x10000
  mov cr0, eax
  mov dword [0x6004], 2
  hlt
pf:
  pop esi
  mov edi, cr2
  hlt
`,
        [[14, 'pf', 0x8e]],
      ),
    );
    runToHlt(cpu);
    expect(cpu.lo[6]).toBe(3);
    expect(cpu.lo[7]).toBe(0x6004);
    expect(cpu.memory.read32(0x6000)).toBe(1);
  });

  it('a ring-3 write to a read-only user page faults with error code 7', () => {
    const { cpu } = run32(
      paging(
        `
  mov dword [${PT + 6 * 4}], 0x6005
  push 0x23
  push 0x8000
  push 0x2
  push 0x1b
  push user
  iret
user:
  mov ax, 0x23
  mov ds, ax
  mov eax, [0x6000]
  mov dword [0x6000], 5
  hlt
pf:
  pop esi
  mov edi, cr2
  hlt
`,
        [[14, 'pf', 0x8e]],
      ),
    );
    runToHlt(cpu);
    expect(cpu.lo[6]).toBe(7);
    expect(cpu.lo[7]).toBe(0x6000);
  });
});

describe('32-bit PAE paging (the Xen 32-bit PV layout)', () => {
  const PDPT = 0x20000;
  const PD = 0x21000;
  const PT = 0x22000;
  const pae = (body: string, gates: [number, string, number][]) => `${prelude(gates)}
  mov edi, ${PT}
  mov eax, 7
.fill:
  mov [edi], eax
  mov dword [edi + 4], 0
  add eax, 0x1000
  add edi, 8
  cmp edi, ${PT + 4096}
  jne .fill
  mov dword [${PDPT}], ${PD | 1}
  mov dword [${PD}], ${PT | 7}
  mov dword [${PD + 8}], 0x200087
  mov dword [${PD + 12}], 0x80000000
  mov dword [${PT + 5 * 8}], 0
  mov ecx, 0xc0000080
  rdmsr
  or eax, 0x800
  wrmsr
  mov eax, cr4
  or eax, 0x20
  mov cr4, eax
  mov eax, ${PDPT}
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
${body}`;

  it('walks 3 levels: #PF on a not-present 4 KiB page, A/D bits on a 2 MiB page', () => {
    const { cpu, ram } = run32(
      pae(
        `
  mov dword [0x200010], 0x77
  mov ebx, [0x200010]
  mov eax, [0x5000]
  hlt
pf:
  pop esi
  mov edi, cr2
  hlt
`,
        [[14, 'pf', 0x8e]],
      ),
    );
    runToHlt(cpu);
    expect(cpu.lo[3]).toBe(0x77);
    expect(cpu.lo[6]).toBe(0);
    expect(cpu.lo[7]).toBe(0x5000);
    expect(ram.read32(PD + 8) & 0x60).toBe(0x60);
  });

  it('execute-disable (EFER.NXE) on a 2 MiB page faults instruction fetches with error code 0x11', () => {
    const { cpu } = run32(
      pae(
        `
  mov eax, 0x200000
  jmp eax
pf:
  pop esi
  mov edi, cr2
  hlt
`,
        [[14, 'pf', 0x8e]],
      ),
    );
    runToHlt(cpu);
    expect(cpu.lo[6]).toBe(0x11);
    expect(cpu.lo[7]).toBe(0x200000);
  });
});
