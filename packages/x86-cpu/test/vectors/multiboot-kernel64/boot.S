/* Multiboot (ELF32 container) entry in 32-bit protected mode; builds identity page tables for
 * the first 1 GiB with 2 MiB pages, enables long mode and calls the 64-bit kmain. */
.section .multiboot, "a"
.align 4
.long 0x1BADB002
.long 0x00000003
.long -(0x1BADB002 + 0x00000003)
.section .text
.code32
.global _start
_start:
  mov %eax, %edi
  mov %ebx, %esi
  mov $stack_top, %esp
  mov $pdpt, %eax
  or $3, %eax
  mov %eax, pml4
  mov $pd, %eax
  or $3, %eax
  mov %eax, pdpt
  xor %ecx, %ecx
1:
  mov %ecx, %eax
  shl $21, %eax
  or $0x83, %eax
  mov %eax, pd(,%ecx,8)
  inc %ecx
  cmp $512, %ecx
  jne 1b
  mov $pml4, %eax
  mov %eax, %cr3
  mov %cr4, %eax
  or $0x20, %eax
  mov %eax, %cr4
  mov $0xC0000080, %ecx
  rdmsr
  or $0x100, %eax
  wrmsr
  mov %cr0, %eax
  or $0x80000000, %eax
  mov %eax, %cr0
  lgdt gdtr
  ljmp $0x08, $long_entry
.code64
long_entry:
  mov $0x10, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  mov $stack_top, %rsp
  call kmain
2: hlt
  jmp 2b
.section .rodata
.align 8
gdt: .quad 0, 0x00209a0000000000, 0x0000920000000000
gdtr: .word 23
  .long gdt
.section .bss
.align 4096
pml4: .skip 4096
pdpt: .skip 4096
pd: .skip 4096
stack: .skip 16384
stack_top:
