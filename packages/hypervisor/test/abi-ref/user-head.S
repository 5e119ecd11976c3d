/*
 * 64-bit PV entry point, Xen ELF notes and the kernel-side entry stubs of the user-mode reference
 * guest (user.c). Every stub is entered through a Xen bounce frame on the kernel stack
 * (stack_switch): rcx, r11, [error code], rip, cs, rflags, rsp, ss. The C handler gets the frame
 * and returns the value the stub hands to HYPERVISOR_iret as rax.
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
        xennote 6, .asciz "Typevisor-user-ref"
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

/* u64 enter_user(rip, rsp, rflags, cs, ss): HYPERVISOR_iret to user mode; leave_user returns. */
        .globl enter_user
enter_user:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, kctx_rsp(%rip)
        push    %r8                     /* ss */
        push    %rsi                    /* rsp */
        push    %rdx                    /* rflags */
        push    %rcx                    /* cs */
        push    %rdi                    /* rip */
        pushq   $0                      /* flags: restore rcx/r11 from the frame */
        mov     $0x1111, %rcx
        mov     $0x2222, %r11
        jmp     hypercall_page + 23 * 32

/* void leave_user(u64 value): back into enter_user's caller, in kernel mode. */
        .globl leave_user
leave_user:
        mov     kctx_rsp(%rip), %rsp
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        mov     %rdi, %rax
        ret

/* The syscall callback: rax = number, rdi/rsi = arguments; returns with VGCF_in_syscall. */
        .globl syscall_entry
syscall_entry:
        mov     %rcx, entry_rcx(%rip)
        mov     %r11, entry_r11(%rip)
        mov     %gs:0, %rcx
        mov     %rcx, entry_gs0(%rip)
        mov     %rsi, %rcx              /* arg2 */
        mov     %rdi, %rdx              /* arg1 */
        mov     %rax, %rsi              /* number */
        mov     %rsp, %rdi              /* frame */
        call    k_syscall
        pop     %rcx
        pop     %r11
        pushq   $0x100                  /* VGCF_in_syscall */
        jmp     hypercall_page + 23 * 32

        .macro tstub name, vec, err
        .globl \name
\name:
        mov     %rax, entry_rax(%rip)
        mov     %rdi, entry_rdi(%rip)
        mov     %rcx, entry_rcx(%rip)
        mov     %r11, entry_r11(%rip)
        mov     %rsp, %rdi
        mov     $\vec, %esi
        call    k_trap
        pop     %rcx
        pop     %r11
        .if \err
        add     $8, %rsp
        .endif
        pushq   $0
        jmp     hypercall_page + 23 * 32
        .endm
        tstub   trap_gp, 13, 1
        tstub   trap_pf, 14, 1
        tstub   trap_int80, 0x80, 0
        tstub   event_entry, 0x100, 0
        tstub   failsafe_entry, 0x101, 0
        tstub   trap_ud, 6, 0

/* User-mode code (CPL 3, user page table). */
        .globl user_spin
/* Spins until tick is set, counting in r12; then exit(count). */
user_spin:
        xor     %r12, %r12
1:      inc     %r12
        cmpq    $0, tick(%rip)
        je      1b
        mov     %r12, %rdi
        mov     $60, %eax
        syscall
        ud2

        .globl probe_mode
/* Which mode an iret left us in: a syscall exits with 3 from user mode; from kernel mode it is
   hypercall 60 (-ENOSYS) and the probe leaves with 4. */
probe_mode:
        mov     %gs:0, %rax
        mov     %rax, probe_gs0(%rip)
        mov     $60, %eax
        mov     $3, %edi
        syscall
        mov     %rax, probe_rax(%rip)
        mov     $4, %edi
        jmp     leave_user

/* Compatibility-mode (32-bit) user code on FLAT_USER_CS32: int $0x80, then syscall with the
   int $0x80 result as the exit value. */
        .code32
        .globl compat_user
compat_user:
        mov     $0x32, %eax
        int     $0x80
        .globl compat_user_int80_ret
compat_user_int80_ret:
        mov     %eax, %edi
        mov     $60, %eax
        syscall
        .globl compat_user_syscall_ret
compat_user_syscall_ret:
        ud2
        .code64

        .globl user_sys
/* u64 user_sys(nr, a1, a2): rcx after the syscall goes to last_user_rcx, r11 to last_user_r11. */
user_sys:
        mov     %rdi, %rax
        mov     %rsi, %rdi
        mov     %rdx, %rsi
        syscall
        .globl user_sys_ret
user_sys_ret:
        mov     %rcx, last_user_rcx(%rip)
        mov     %r11, last_user_r11(%rip)
        ret

        .globl user_int80
/* u64 user_int80(a1): int $0x80 with rdi = a1; returns rax. */
user_int80:
        mov     $0x5555, %rcx
        int     $0x80
        .globl user_int80_ret
user_int80_ret:
        mov     %rcx, last_user_rcx(%rip)
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
        .globl kctx_rsp, entry_rax, entry_rdi, entry_rcx, entry_r11, entry_gs0, last_user_rcx, last_user_r11, tick, probe_gs0, probe_rax
        .p2align 3
kctx_rsp:       .quad 0
entry_rdi:      .quad 0
entry_rax:      .quad 0
entry_rcx:      .quad 0
entry_r11:      .quad 0
entry_gs0:      .quad 0
last_user_rcx:  .quad 0
last_user_r11:  .quad 0
tick:           .quad 0
probe_gs0:      .quad 0
probe_rax:      .quad 0

        .section .bss
        .p2align 12
stack:  .skip   16384
stack_top:
