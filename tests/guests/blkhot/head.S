/* 64-bit PV entry point and Xen ELF notes for the blkhot guest. */
        .section .note.Xen, "a", @note
        .macro xennote type, payload:vararg
        .p2align 2
        .long 4, 7f - 6f, \type
        .asciz "Xen"
        .p2align 2
6:      \payload
7:      .p2align 2
        .endm
        xennote 6, .asciz "Typevisor-blkhot"
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
 * The event callback (HYPERVISOR_set_callbacks). Xen entered it with events masked and RCX,
 * R11 pushed on the iret frame. The main loop polls the rings itself, so the callback only
 * acknowledges the upcall (vcpu_info[0].evtchn_upcall_pending = 0) and returns with
 * HYPERVISOR_iret (flags 0), which unmasks events again as the saved RFLAGS.IF says.
 */
        .globl hypervisor_callback
hypervisor_callback:
        movb    $0, shinfo_window(%rip)
        pop     %rcx
        pop     %r11
        pushq   $0
        jmp     hypercall_page + 23 * 32

        .globl failsafe_callback
failsafe_callback:
        ud2

        .p2align 12
        .globl hypercall_page
hypercall_page:
        .fill   4096, 1, 0xcc

        .section .bss
        .p2align 12
stack:  .skip   16384
stack_top:
