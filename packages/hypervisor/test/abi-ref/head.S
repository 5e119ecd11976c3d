/* 64-bit PV entry point and Xen ELF notes for the ABI reference guest. */
        .section .note.Xen, "a", @note
        .macro xennote type, payload:vararg
        .p2align 2
        .long 4, 7f - 6f, \type
        .asciz "Xen"
        .p2align 2
6:      \payload
7:      .p2align 2
        .endm
        xennote 6, .asciz "Typevisor-abi-ref"
        xennote 8, .asciz "generic"
        xennote 5, .asciz "xen-3.0"
        xennote 2, .quad hypercall_page
        xennote 1, .quad _start
        xennote 3, .quad 0
        xennote 4, .quad 0
        xennote 10, .asciz "!writable_page_tables|pae_pgdir_above_4gb"

        .section .text.head, "ax"
        .globl _start
_start:
        lea     stack_top(%rip), %rsp
        mov     %rsi, %rdi              /* start_info */
        call    guest_main
1:      jmp     1b

/*
 * Exception handlers for the descriptor-table checks: record the vector and error code, then
 * HYPERVISOR_iret to fault_resume. 64-bit PV bounce frame: rcx, r11, error code, rip, cs,
 * rflags, rsp, ss; the iret frame adds flags (0: restore rcx/r11) and the hypercall page's
 * rax, r11, rcx.
 */
        .macro trap_entry vec
        .globl trap_\vec
trap_\vec:
        pop     %rcx
        pop     %r11
        popq    fault_code(%rip)
        movq    $\vec, fault_vec(%rip)
        push    %rax
        mov     fault_resume(%rip), %rax
        mov     %rax, 8(%rsp)
        pop     %rax
        pushq   $0
        jmp     hypercall_page + 23 * 32
        .endm
        trap_entry 11
        trap_entry 12
        trap_entry 13
        trap_entry 14

/* Where the call gates in the guest's GDT point (never reached: no far transfer uses them). */
        .globl gate_target
gate_target:
        ud2

        .p2align 12
        .globl hypercall_page
hypercall_page:
        .fill   4096, 1, 0xcc

        .data
        .globl fault_vec, fault_code, fault_resume
        .p2align 3
fault_vec:      .quad 0
fault_code:     .quad 0
fault_resume:   .quad 0

        .section .bss
        .p2align 12
stack:  .skip   16384
stack_top:
