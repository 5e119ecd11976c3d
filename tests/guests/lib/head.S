/*
 * 64-bit PV entry point and Xen ELF notes for the test guests. Built with
 * -DGUEST_NAME='"Typevisor-<name>"' (the GUEST_OS note); with -DHEAD_C_UPCALL the event
 * callback calls the guest's do_upcall(), otherwise it only acknowledges the upcall.
 */
        .section .note.Xen, "a", @note
        .macro xennote type, payload:vararg
        .p2align 2
        .long 4, 7f - 6f, \type
        .asciz "Xen"
        .p2align 2
6:      \payload
7:      .p2align 2
        .endm
        xennote 6, .asciz GUEST_NAME
        xennote 8, .asciz "generic"
        xennote 5, .asciz "xen-3.0"
        xennote 2, .quad hypercall_page
        xennote 1, .quad _start
        xennote 3, .quad 0
        xennote 4, .quad 0
        xennote 10, .asciz "!writable_page_tables|pae_pgdir_above_4gb"

        .section .text.head, "ax"
        .globl _start
_start:                                 /* vCPU 0, from the domain builder */
        lea     stack_top(%rip), %rsp
        mov     %rsi, %rdi              /* start_info */
        call    guest_main
1:      jmp     1b

#ifdef HEAD_C_UPCALL
/*
 * The event callback. Xen's bounce frame: RSP -> RCX, R11, RIP, CS, RFLAGS, RSP, SS. Saves the
 * other caller-saved registers, calls do_upcall() on a 16-byte aligned stack, and returns with
 * HYPERVISOR_iret (the saved RFLAGS has IF, so events are unmasked again on the way back).
 */
        .globl hypervisor_callback
hypervisor_callback:
        push    %rax
        push    %rdx
        push    %rsi
        push    %rdi
        push    %r8
        push    %r9
        push    %r10
        push    %rbx
        mov     %rsp, %rbx
        and     $-16, %rsp
        call    do_upcall
        mov     %rbx, %rsp
        pop     %rbx
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rax
        pop     %rcx
        pop     %r11
        push    $0                      /* iret_context.flags */
        jmp     hypercall_page + 23 * 32
#else
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
#endif

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
