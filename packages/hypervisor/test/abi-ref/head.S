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

        .p2align 12
        .globl hypercall_page
hypercall_page:
        .fill   4096, 1, 0xcc

        .section .bss
        .p2align 12
stack:  .skip   16384
stack_top:
