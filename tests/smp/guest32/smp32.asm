; A focused 32-bit PAE PV SMP guest ("xen-3.0-x86_32p"), assembled straight to an ELF32 image
; (nasm -f bin, no linker; the ELF header and Xen notes are the ones of
; ../../pv-boot32/guest/pv32-hello.asm). vCPU 0, in ring 1, with `int $0x82`:
; counts the domain's vCPUs (compat VCPUOP_is_up answers -ENOENT past the last one); makes
; hostile calls (is_up past the last vCPU, up of an uninitialised vCPU, initialise from an
; unmapped pointer, a context with CR3 0 and one with a ring-3 CS); then, for every other vCPU,
; fills a 2800-byte compat vcpu_guest_context (EIP = ap_start, ESP = its own stack, EDI = its
; number, FLAT_RING1_CS with RPL 0 as a ring-0 kernel would write it, FLAT_RING1_DS, kernel
; stack, ctrlreg[3] = its own CR3 read with `mov %cr3` in the extended-cr3 encoding),
; initialises it twice (0, then -EEXIST), brings it up and waits until it has run and taken
; itself down (VCPUOP_down of itself), reads its runstate (offline), brings it up again and waits
; until it has run on from where it stopped; there it blocks in SCHEDOP_poll on an IPI port vCPU 0
; bound to it (EVTCHNOP_bind_ipi) until vCPU 0 sends it, then on its own VIRQ_TIMER port
; (EVTCHNOP_bind_virq for that vCPU) until its periodic timer ticks; then it clears its pending
; events, unmasks its vcpu_info in the shared_info page vCPU 0 mapped, and waits for an event
; upcall (the context's event callback) carrying vCPU 0's second IPI, and goes down; vCPU 0
; prints what it recorded. Only vCPU 0 prints, `name 0x........` lines between
; `TYPEVISOR-SMP32 begin` and `TYPEVISOR-SMP32 end`; then it powers off.
; Build: ./build.sh [outdir]
BITS 32
BASE equ 0x100000
org BASE

ehdr:
        db 0x7f, 'ELF', 1, 1, 1, 0
        times 8 db 0
        dw 2                                ; ET_EXEC
        dw 3                                ; EM_386
        dd 1
        dd _start
        dd phdrs - $$
        dd 0
        dd 0
        dw 52, 32, 2, 40, 0, 0
phdrs:
        dd 1, 0, BASE, BASE                 ; PT_LOAD
        dd file_end - $$, file_end - $$, 7
        dd 0x1000
        dd 4, notes - $$, notes, notes      ; PT_NOTE
        dd notes_end - notes, notes_end - notes, 4
        dd 4

%macro xennote 2+
        align 4, db 0
        dd 4, %%end - %%desc, %1
        db 'Xen', 0
%%desc: %2
        align 4, db 0
%%end:
%endmacro
notes:
        xennote 6, db 'Typevisor-smp32', 0             ; GUEST_OS
        xennote 8, db 'generic', 0                     ; LOADER
        xennote 5, db 'xen-3.0', 0                     ; XEN_VERSION
        xennote 9, db 'yes', 0                         ; PAE_MODE
        xennote 2, dd hypercall_page                   ; HYPERCALL_PAGE
        xennote 1, dd _start                           ; ENTRY
        xennote 3, dd 0                                ; VIRT_BASE
        xennote 4, dd 0                                ; PADDR_OFFSET
        xennote 10, db '!writable_page_tables|pae_pgdir_above_4gb', 0 ; FEATURES
notes_end:

        align 4096, db 0
hypercall_page:
        times 4096 db 0xcc

HC_update_va_mapping equ 14
HC_console_io       equ 18
HC_iret             equ 23
HC_vcpu_op          equ 24
HC_sched_op         equ 29
HC_event_channel_op equ 32
EVTCHNOP_bind_virq  equ 1
EVTCHNOP_send       equ 4
EVTCHNOP_bind_ipi   equ 7
VIRQ_TIMER          equ 0
VCPUOP_initialise   equ 0
VCPUOP_up           equ 1
VCPUOP_down         equ 2
VCPUOP_is_up        equ 3
VCPUOP_get_runstate_info equ 4
FLAT_RING1_DS       equ 0xe021
MAX_VCPUS           equ 8
; compat vcpu_guest_context offsets (xen/include/public/arch-x86/xen.h, x86_32)
CTX_SIZE            equ 2800
CTX_FLAGS           equ 512
CTX_EDI             equ 516 + 16
CTX_EIP             equ 516 + 32
CTX_CS              equ 516 + 36
CTX_EFLAGS          equ 516 + 40
CTX_ESP             equ 516 + 44
CTX_SS              equ 516 + 48
CTX_ES              equ 516 + 52
CTX_DS              equ 516 + 56
CTX_KERNEL_SS       equ 2708
CTX_KERNEL_SP       equ 2712
CTX_CR3             equ 2716 + 12
CTX_EVENT_CS        equ 2780
CTX_EVENT_EIP       equ 2784
CTX_FAILSAFE_CS     equ 2788
CTX_FAILSAFE_EIP    equ 2792

%macro print 2
        xor ebx, ebx
        mov ecx, %2
        mov edx, %1
        mov eax, HC_console_io
        int 0x82
%endmacro
%macro str 2
%1:     db %2
%1_len  equ $ - %1
%endmacro
; say label: prints the label, then EAX in hex and a newline
%macro say 1
        push eax
        print %1, %1_len
        pop eax
        call print_hex
%endmacro
; vcpu_op cmd, vcpu, arg: EAX = HYPERVISOR_vcpu_op(cmd, vcpu, arg)
%macro vcpu_op 3
        mov ebx, %1
        mov ecx, %2
        mov edx, %3
        mov eax, HC_vcpu_op
        int 0x82
%endmacro

_start:
        mov ebp, esi                        ; start_info
        mov esp, stack0_top
        print l_begin, l_begin_len
        mov eax, HC_update_va_mapping       ; update_va_mapping(shinfo, lo, hi, UVMF_INVLPG)
        mov ebx, shinfo
        mov ecx, [ebp + 36]                 ; start_info.shared_info (a machine address)
        or ecx, 0x63                        ; P|RW|A|D
        xor edx, edx
        mov esi, 2
        int 0x82
        say l_shinfo
        xor esi, esi                        ; count the vCPUs
.count: vcpu_op VCPUOP_is_up, esi, 0
        cmp eax, -2                         ; -ENOENT: past the last one
        je .counted
        inc esi
        cmp esi, MAX_VCPUS
        jb .count
.counted:
        mov [nvcpus], esi
        mov eax, esi
        say l_vcpus
        vcpu_op VCPUOP_is_up, [nvcpus], 0
        say l_past
        vcpu_op VCPUOP_up, 1, 0
        say l_uninit
        vcpu_op VCPUOP_initialise, 1, 0x7fff0000
        say l_badptr

        ; the context every secondary vCPU starts from
        mov dword [ctx + CTX_FLAGS], 4      ; VGCF_in_kernel
        mov word [ctx + CTX_CS], 0xe018     ; FLAT_RING1_CS as ring 0 (Xen makes the RPL 1)
        mov word [ctx + CTX_SS], FLAT_RING1_DS
        mov word [ctx + CTX_DS], FLAT_RING1_DS
        mov word [ctx + CTX_ES], FLAT_RING1_DS
        mov dword [ctx + CTX_EFLAGS], 0x2
        mov dword [ctx + CTX_KERNEL_SS], FLAT_RING1_DS
        mov dword [ctx + CTX_EVENT_CS], 0xe019
        mov dword [ctx + CTX_FAILSAFE_CS], 0xe019
        mov dword [ctx + CTX_EIP], ap_start
        mov dword [ctx + CTX_EVENT_EIP], ap_event
        mov dword [ctx + CTX_FAILSAFE_EIP], ap_failsafe
        mov dword [ctx + CTX_CR3], 0        ; no page table
        vcpu_op VCPUOP_initialise, 1, ctx
        say l_nocr3
        mov eax, cr3                        ; emulated: the L3 in the extended-cr3 encoding
        mov [ctx + CTX_CR3], eax
        mov word [ctx + CTX_CS], 0xe02b     ; a ring-3 CS
        vcpu_op VCPUOP_initialise, 1, ctx
        say l_ring3
        mov word [ctx + CTX_CS], 0xe018

        mov esi, 1
.next:  cmp esi, [nvcpus]
        jae .done
        mov eax, esi
        say l_cpu
        mov [ctx + CTX_EDI], esi
        mov eax, esi
        inc eax
        shl eax, 12
        add eax, stacks
        mov [ctx + CTX_ESP], eax
        mov [ctx + CTX_KERNEL_SP], eax
        mov [evtop], esi                    ; bind_ipi { vcpu }
        mov ebx, EVTCHNOP_bind_ipi
        mov ecx, evtop
        mov eax, HC_event_channel_op
        int 0x82
        say l_ipibind
        mov eax, [evtop + 4]
        mov [ipiports + esi * 4], eax
        mov dword [evtop], VIRQ_TIMER       ; bind_virq { virq, vcpu }
        mov [evtop + 4], esi
        mov ebx, EVTCHNOP_bind_virq
        mov ecx, evtop
        mov eax, HC_event_channel_op
        int 0x82
        say l_timerbind
        mov eax, [evtop + 8]
        mov [timerports + esi * 4], eax
        mov eax, cr3                        ; read again per vCPU (as Linux's cpu_initialize_context):
        mov [ctx + CTX_CR3], eax            ; a save and restore moves the L3 to another frame
        vcpu_op VCPUOP_initialise, esi, ctx
        say l_init
        vcpu_op VCPUOP_initialise, esi, ctx
        say l_again
        vcpu_op VCPUOP_up, esi, 0
        say l_up
        mov edi, 1
        call wait_down
        mov eax, [flags + esi * 4]
        say l_ran
        vcpu_op VCPUOP_is_up, esi, 0
        say l_isup
        vcpu_op VCPUOP_get_runstate_info, esi, runstate
        say l_rsrc
        mov eax, [runstate]
        say l_rs
        vcpu_op VCPUOP_up, esi, 0
        say l_up
        mov edi, 2
        call wait_flag
        mov eax, [ipiports + esi * 4]       ; send { port }
        mov [evtop], eax
        mov ebx, EVTCHNOP_send
        mov ecx, evtop
        mov eax, HC_event_channel_op
        int 0x82
        say l_send
        mov edi, 5                          ; it has unmasked events
        call wait_flag
        mov eax, [ipiports + esi * 4]
        mov [evtop], eax
        mov ebx, EVTCHNOP_send
        mov ecx, evtop
        mov eax, HC_event_channel_op
        int 0x82
        say l_send
        mov edi, 6
        call wait_down
        mov eax, [flags + esi * 4]
        say l_ran
        mov eax, [ipirc + esi * 4]
        say l_ipipoll
        mov eax, [timerrc + esi * 4]
        say l_timerpoll
        mov eax, [upcalls + esi * 4]
        say l_upcall
        inc esi
        jmp .next
.done:
        print l_end, l_end_len
        mov ebx, 2                          ; SCHEDOP_shutdown
        mov ecx, poweroff
        mov eax, HC_sched_op
        int 0x82
.hang:  jmp .hang

; wait_flag: yields until flags[ESI] == EDI
wait_flag:
.w:     cmp [flags + esi * 4], edi
        je .out
        call yield
        jmp .w
.out:   ret

; wait_down: yields until flags[ESI] == EDI and vCPU ESI is down again
wait_down:
        call wait_flag
.flag:  vcpu_op VCPUOP_is_up, esi, 0
        test eax, eax
        jz .out
        call yield
        jmp .flag
.out:   ret

yield:
        xor ebx, ebx                        ; SCHEDOP_yield
        xor ecx, ecx
        mov eax, HC_sched_op
        int 0x82
        ret

; A secondary vCPU: EDI = its number (from the context). It records that it ran and takes itself
; down; brought up again, it goes on after the hypercall, records that too and goes down again.
ap_start:
        mov dword [flags + edi * 4], 1
        vcpu_op VCPUOP_down, edi, 0
        mov dword [flags + edi * 4], 2
        mov eax, [ipiports + edi * 4]
        call poll
        mov [ipirc + edi * 4], eax
        mov dword [flags + edi * 4], 3
        mov eax, [timerports + edi * 4]
        call poll
        mov [timerrc + edi * 4], eax
        mov dword [flags + edi * 4], 4
        mov eax, [ipiports + edi * 4]       ; forget the events the polls saw
        lock btr [shinfo + 2048], eax
        mov eax, [timerports + edi * 4]
        lock btr [shinfo + 2048], eax
        mov eax, edi
        shl eax, 6                          ; vcpu_info[EDI]: 64 bytes
        mov dword [shinfo + eax + 4], 0     ; evtchn_pending_sel
        mov byte [shinfo + eax], 0          ; evtchn_upcall_pending
        mov byte [shinfo + eax + 1], 0      ; evtchn_upcall_mask: events on
        mov dword [flags + edi * 4], 5
.wait:  cmp dword [upcalls + edi * 4], 0
        jne .got
        call yield
        jmp .wait
.got:   mov eax, edi
        shl eax, 6
        mov byte [shinfo + eax + 1], 1      ; events off again
        mov dword [flags + edi * 4], 6
        vcpu_op VCPUOP_down, edi, 0
.spin:  jmp .spin

; A secondary vCPU's event callback (from its context): ESP -> EIP, CS | mask << 16, EFLAGS;
; EDI is still the interrupted vCPU number. Records whether its IPI port was pending, clears
; its ports, and returns with HYPERVISOR_iret (from the hypercall page: EAX pushed first).
ap_event:
        push eax
        push ebx
        mov eax, edi
        shl eax, 6
        mov byte [shinfo + eax], 0          ; evtchn_upcall_pending = 0
        mov dword [shinfo + eax + 4], 0
        mov eax, [ipiports + edi * 4]
        lock btr [shinfo + 2048], eax       ; CF = the IPI port was pending
        jnc .timer
        mov dword [upcalls + edi * 4], 1
.timer: mov eax, [timerports + edi * 4]
        lock btr [shinfo + 2048], eax
        pop ebx
        pop eax
        jmp hypercall_page + HC_iret * 32
ap_failsafe:
        ud2

; poll: SCHEDOP_poll on port EAX (no timeout) from vCPU EDI; EAX = the result. Uses the vCPU's
; own 16-byte compat sched_poll { ports, nr_ports, timeout } and port word.
poll:
        mov ebx, edi
        shl ebx, 5
        add ebx, pollargs                   ; 32 bytes per vCPU: sched_poll, then the port
        mov [ebx + 16], eax
        lea eax, [ebx + 16]
        mov [ebx], eax
        mov dword [ebx + 4], 1
        mov ecx, ebx
        mov ebx, 3                          ; SCHEDOP_poll
        mov eax, HC_sched_op
        int 0x82
        ret

print_hex:
        mov edi, hexbuf + 2
        mov ecx, 8
.next:  rol eax, 4
        mov ebx, eax
        and ebx, 15
        mov bl, [hexdigits + ebx]
        mov [edi], bl
        inc edi
        dec ecx
        jnz .next
        print hexbuf, hexbuf_len
        ret

        str l_begin, `TYPEVISOR-SMP32 begin\n`
        str l_end, `TYPEVISOR-SMP32 end\n`
        str l_vcpus, `vcpus `
        str l_past, `is_up.past_last `
        str l_uninit, `up.uninitialised `
        str l_badptr, `initialise.bad_pointer `
        str l_nocr3, `initialise.cr3_0 `
        str l_ring3, `initialise.ring3_cs `
        str l_cpu, `cpu `
        str l_init, `  initialise `
        str l_again, `  initialise.again `
        str l_up, `  up `
        str l_ran, `  ran `
        str l_isup, `  is_up `
        str l_rsrc, `  runstate.rc `
        str l_rs, `  runstate.state `
        str l_ipibind, `  bind_ipi `
        str l_timerbind, `  bind_virq.timer `
        str l_send, `  send `
        str l_upcall, `  upcall.ipi `
        str l_shinfo, `shared_info.map `
        str l_ipipoll, `  poll.ipi `
        str l_timerpoll, `  poll.timer `
        str hexbuf, `0x00000000\n`
hexdigits: db '0123456789abcdef'
        align 4, db 0
poweroff: dd 0                              ; SHUTDOWN_poweroff
nvcpus:   dd 0
flags:    times MAX_VCPUS dd 0
runstate: times 12 dd 0
evtop:    times 4 dd 0
ipiports: times MAX_VCPUS dd 0
timerports: times MAX_VCPUS dd 0
ipirc:    times MAX_VCPUS dd 0
timerrc:  times MAX_VCPUS dd 0
pollargs: times MAX_VCPUS * 8 dd 0
upcalls:  times MAX_VCPUS dd 0
        align 4096, db 0
shinfo: times 4096 db 0                     ; shared_info is mapped here
ctx:    times CTX_SIZE db 0
        align 4096, db 0
stack0: times 4096 db 0
stack0_top:
stacks: times 4096 * MAX_VCPUS db 0
file_end:
