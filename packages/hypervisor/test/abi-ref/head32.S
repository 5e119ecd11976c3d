/* 32-bit PAE PV ("xen-3.0-x86_32p") entry point and Xen ELF notes for the compat ABI reference
 * guest (guest32.c): ring 1, hypercalls through the hypercall page's `int $0x82` entries. */
        .section .note.Xen, "a", @note
        .macro xennote type, payload:vararg
        .p2align 2
        .long 4, 7f - 6f, \type
        .asciz "Xen"
        .p2align 2
6:      \payload
7:      .p2align 2
        .endm
        xennote 6, .asciz "Typevisor-abi-ref-32"
        xennote 8, .asciz "generic"
        xennote 5, .asciz "xen-3.0"
        xennote 9, .asciz "yes"
        xennote 2, .long hypercall_page
        xennote 1, .long _start
        xennote 3, .long 0
        xennote 4, .long 0
        xennote 10, .asciz "!writable_page_tables|pae_pgdir_above_4gb"

        .section .text.head, "ax"
/*
 * Where the call gates in the guest's GDT point, first in the image so that its address
 * (0x100000) and the gate values printed stay the same whatever the code's size: the far jump
 * through a gate lands here (and goes back to fault_resume), the far call at call_target (and
 * returns with lret).
 */
        .globl gate_target, call_target
gate_target:
        movl    $1, gate_hit
        jmp     *fault_resume
call_target:
        movl    $2, gate_hit
        lret

        .globl _start
_start:
        mov     $stack_top, %esp
        push    %esi                    /* start_info */
        call    guest_main
1:      jmp     1b

/*
 * Exception handlers: record the vector and error code, then HYPERVISOR_iret to fault_resume.
 * Compat bounce frame from ring 1: error code, eip, cs, eflags; the iret frame is eax, eip, cs,
 * eflags (the hypercall page's iret entry pushes eax).
 */
        .macro trap_entry vec
        .globl trap_\vec
trap_\vec:
        popl    fault_code
        movl    $\vec, fault_vec
        mov     %cs, fault_cs
        push    %eax
        movl    fault_resume, %eax
        movl    %eax, 4(%esp)
        pop     %eax
        jmp     hypercall_page + 23 * 32
        .endm
        trap_entry 11
        trap_entry 12
        trap_entry 13
        trap_entry 14

        .p2align 12
        .globl hypercall_page
hypercall_page:
        .fill   4096, 1, 0xcc

        .data
        .globl fault_vec, fault_code, fault_resume, fault_cs, gate_hit
        .p2align 2
fault_vec:      .long 0
fault_cs:       .long 0
gate_hit:       .long 0
fault_code:     .long 0
fault_resume:   .long 0

        .section .bss
        .p2align 12
stack:  .skip   16384
stack_top:
