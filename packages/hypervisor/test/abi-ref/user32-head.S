/*
 * 32-bit PAE PV ("xen-3.0-x86_32p") entry point, Xen ELF notes and the ring-1 kernel's entry
 * stubs of the compat user-mode reference guest (user32.c). A stub entered from ring 3 finds a
 * compat bounce frame on the stack_switch stack: [error code], eip, cs (saved upcall mask in
 * bits 16-23), eflags, esp, ss (from ring 1 the frame stops at eflags). The C handler gets the
 * frame and returns the value the stub hands to HYPERVISOR_iret as eax.
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
        xennote 6, .asciz "Typevisor-user-ref-32"
        xennote 8, .asciz "generic"
        xennote 5, .asciz "xen-3.0"
        xennote 9, .asciz "yes"
        xennote 2, .long hypercall_page
        xennote 1, .long _start
        xennote 3, .long 0
        xennote 4, .long 0
        xennote 10, .asciz "!writable_page_tables|pae_pgdir_above_4gb"

        .section .text.head, "ax"
        .globl _start
_start:
        mov     $stack_top, %esp
        mov     $0xe033, %eax           /* FLAT_RING3_DS: usable in ring 1 and in ring 3 */
        mov     %eax, %ds
        mov     %eax, %es
        push    %esi                    /* start_info */
        call    guest_main
1:      jmp     1b

/* u32 enter_user(eip, esp, eflags, cs, ss): HYPERVISOR_iret to ring 3; leave_user returns. */
        .globl enter_user
enter_user:
        push    %ebx
        push    %ebp
        push    %esi
        push    %edi
        mov     %esp, kctx_esp
        mov     %esp, %ebp
        push    36(%ebp)                /* ss */
        push    24(%ebp)                /* esp */
        push    28(%ebp)                /* eflags */
        push    32(%ebp)                /* cs */
        push    20(%ebp)                /* eip */
        xor     %eax, %eax
        jmp     hypercall_page + 23 * 32

/* void leave_user(u32 value): back into enter_user's caller, in ring 1. */
        .globl leave_user
leave_user:
        mov     4(%esp), %eax
        mov     kctx_esp, %esp
        pop     %edi
        pop     %esi
        pop     %ebp
        pop     %ebx
        ret

        .macro tstub name, vec, err
        .globl \name
\name:
        mov     %eax, entry_eax
        mov     %edi, entry_edi
        mov     %esi, entry_esi
        mov     %ecx, entry_ecx
        push    %ecx
        push    %edx
        lea     8(%esp), %eax           /* the frame */
        push    $\vec
        push    %eax
        call    k_trap
        add     $8, %esp
        pop     %edx
        pop     %ecx
        .if \err
        add     $4, %esp
        .endif
        jmp     hypercall_page + 23 * 32
        .endm
        tstub   trap_gp, 13, 1
        tstub   trap_pf, 14, 1
        tstub   trap_int80, 0x80, 0
        tstub   trap_sys, 0x85, 0
        tstub   event_entry, 0x100, 0
        tstub   failsafe_entry, 0x101, 0

/* Ring-3 code. */
        .globl user_spin
/* Spins until tick is set, counting in ebx; then exit(count). */
user_spin:
        xor     %ebx, %ebx
1:      inc     %ebx
        cmpl    $0, tick
        je      1b
        mov     %ebx, %edi
        mov     $60, %eax
        int     $0x85
        ud2

        .globl user_sys
/* u32 user_sys(nr, a1, a2): the guest's system call, int $0x85 with eax = nr, edi/esi = args. */
user_sys:
        push    %edi
        push    %esi
        mov     12(%esp), %eax
        mov     16(%esp), %edi
        mov     20(%esp), %esi
        int     $0x85
        .globl user_sys_ret
user_sys_ret:
        pop     %esi
        pop     %edi
        ret

        .globl user_int80
/* u32 user_int80(a1): int $0x80 with edi = a1, ecx = 0x5555; returns eax. */
user_int80:
        push    %edi
        mov     8(%esp), %edi
        mov     $0x5555, %ecx
        int     $0x80
        .globl user_int80_ret
user_int80_ret:
        mov     %ecx, last_user_ecx
        pop     %edi
        ret

        .globl user_int81
user_int81:
        .globl user_int81_at
user_int81_at:
        int     $0x81
        ret

        .p2align 12
        .globl hypercall_page
hypercall_page:
        .fill   4096, 1, 0xcc

        .data
        .globl kctx_esp, entry_eax, entry_edi, entry_esi, entry_ecx, last_user_ecx, tick
        .p2align 2
kctx_esp:       .long 0
entry_eax:      .long 0
entry_edi:      .long 0
entry_esi:      .long 0
entry_ecx:      .long 0
last_user_ecx:  .long 0
tick:           .long 0

        .section .bss
        .p2align 12
stack:  .skip   16384
stack_top:
