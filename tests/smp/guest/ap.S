/* Secondary vCPUs' entry (from VCPUOP_initialise: RSP and RDI = the vCPU number set). */
        .text
        .globl ap_start
ap_start:
        call    ap_main
1:      jmp     1b
