/*
 * User-mode reference guest (64-bit PV, freestanding): the guest kernel gives itself a user page
 * table (MMUEXT_NEW_USER_BASEPTR), enters user mode with HYPERVISOR_iret and checks what Xen does
 * on the way back in — a user `syscall` to the syscall callback (with and without
 * CALLBACKF_mask_events), a user #PF, `int $0x80` through a DPL-3 trap_info, `int $0x81` (#GP), a
 * timer upcall interrupting a user loop, iret frames with a bad or RPL-0 CS — printing "name value"
 * lines on the PV console. User mode runs on a second L4 that maps the kernel's L3 twice (at 0 and
 * at 1 << 39), so the alias address is readable in user mode only. Rebuild with ./build.sh.
 */
typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef long s64;

extern char hypercall_page[];

static s64 hc5(int nr, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5) {
  s64 ret;
  register u64 r1 asm("rdi") = a1;
  register u64 r2 asm("rsi") = a2;
  register u64 r3 asm("rdx") = a3;
  register u64 r4 asm("r10") = a4;
  register u64 r5 asm("r8") = a5;
  asm volatile("call *%[fn]"
               : "=a"(ret), "+r"(r1), "+r"(r2), "+r"(r3), "+r"(r4), "+r"(r5)
               : [fn] "r"(hypercall_page + nr * 32)
               : "memory", "rcx", "r11");
  return ret;
}
static s64 hc2(int nr, u64 a1, u64 a2) { return hc5(nr, a1, a2, 0, 0, 0); }

#define HC_set_trap_table 0
#define HC_stack_switch 3
#define HC_set_callbacks 4
#define HC_update_va_mapping 14
#define HC_set_timer_op 15
#define HC_vm_assist 21
#define HC_sched_op 29
#define HC_callback_op 30
#define HC_set_segment_base 25
#define HC_event_channel_op 32
#define HC_mmuext_op 26

#define SELF 0x7ff0
#define BAD 0x00007ff000000000UL
#define ALIAS (1UL << 39)
#define FLAT_USER_CS 0xe033UL
#define FLAT_USER_SS 0xe02bUL
#define SYS_OUT 1
#define SYS_EXIT 60

static volatile u8 *cons;
static u32 cons_port;

static void yield(void) { hc2(HC_sched_op, 0, 0); }

static void putch(char c) {
  volatile u32 *out_cons = (volatile u32 *)(cons + 3080);
  volatile u32 *out_prod = (volatile u32 *)(cons + 3084);
  while (*out_prod - *out_cons >= 2048) yield();
  cons[1024 + (*out_prod & 2047)] = (u8)c;
  asm volatile("" ::: "memory");
  *out_prod = *out_prod + 1;
}

static void flush(void) {
  u32 port = cons_port;
  hc2(HC_event_channel_op, 4, (u64)&port);
  volatile u32 *out_cons = (volatile u32 *)(cons + 3080);
  volatile u32 *out_prod = (volatile u32 *)(cons + 3084);
  while (*out_cons != *out_prod) yield();
}

static void puts_(const char *s) { while (*s) putch(*s++); }

static void putnum(s64 v) {
  char buf[24];
  int i = 0;
  u64 u = v < 0 ? (u64)(-v) : (u64)v;
  if (v < 0) putch('-');
  do { buf[i++] = (char)('0' + u % 10); u /= 10; } while (u);
  while (i) putch(buf[--i]);
}

static const char *prefix = "";

static void out(const char *name, s64 v) {
  puts_(prefix);
  puts_(name);
  putch(' ');
  putnum(v);
  puts_("\n");
  flush();
}

static void outx(const char *name, u64 v) {
  puts_(prefix);
  puts_(name);
  puts_(" 0x");
  for (int i = 60; i >= 0; i -= 4) putch("0123456789abcdef"[(v >> i) & 15]);
  puts_("\n");
  flush();
}

extern u64 enter_user(u64 rip, u64 rsp, u64 rflags, u64 cs, u64 ss);
extern void leave_user(u64 value) __attribute__((noreturn));
extern char syscall_entry[], trap_gp[], trap_pf[], trap_int80[], event_entry[], failsafe_entry[];
extern char compat_user[], compat_user_int80_ret[], compat_user_syscall_ret[], trap_ud[];
extern char probe_mode[], user_spin[], user_sys_ret[], user_int80_ret[], user_int81_at[];
extern u64 user_sys(u64 nr, u64 a1, u64 a2);
extern u64 user_int80(u64 a1);
extern void user_int81(void);
extern volatile u64 entry_rax, entry_rdi, entry_rcx, entry_r11, entry_gs0, last_user_rcx, last_user_r11, tick, probe_gs0, probe_rax;

static u8 kstack[16384] __attribute__((aligned(16)));
static u8 ustack[16384] __attribute__((aligned(16)));
#define KSTACK_TOP ((u64)kstack + sizeof kstack)
#define USTACK_TOP ((u64)ustack + sizeof ustack)
static u64 user_l4[512] __attribute__((aligned(4096)));
static u8 shinfo_window[4096] __attribute__((aligned(4096)));
static u64 kgs_data = 0x6b67736b67736b67UL;
static u64 ugs_data = 0x7567737567737567UL;
static volatile u64 magic = 0x1234567887654321UL;
static const u64 *p2m;
u64 pf_resume;
static int report_syscall;
static int gp_leaves;
static int pf_quiet;
static int compat_session;
static volatile u64 pf_count, last_pf_code, last_pf_cr2;

/* Where a bounce frame is: its distance below the kernel stack top, or minus its distance below
   the user stack top. */
static s64 where(const u64 *f) {
  if ((u64)f >= (u64)kstack && (u64)f < KSTACK_TOP) return (s64)(KSTACK_TOP - (u64)f);
  if ((u64)f >= (u64)ustack && (u64)f < USTACK_TOP) return -(s64)(USTACK_TOP - (u64)f);
  return 999999;
}
static u32 timer_port;

#define VI_PENDING (*(volatile u8 *)(shinfo_window + 0))
#define VI_MASK (*(volatile u8 *)(shinfo_window + 1))
#define VI_SEL (*(volatile u64 *)(shinfo_window + 8))
#define VI_CR2 (*(volatile u64 *)(shinfo_window + 16))
#define EV_PENDING ((volatile u64 *)(shinfo_window + 2048))
#define EV_MASK ((volatile u64 *)(shinfo_window + 2560))

static u64 maddr(const void *va) { return (p2m[(u64)va >> 12] << 12) | ((u64)va & 0xfff); }

struct mmuext { u32 cmd, pad; u64 arg1, arg2; };
static s64 new_user_baseptr(u64 mfn) {
  struct mmuext op = { 15, 0, mfn, 0 };
  return hc5(HC_mmuext_op, (u64)&op, 1, 0, SELF, 0);
}

/* ---- the guest kernel's handlers (kernel mode, on the stack_switch stack) ---- */

u64 k_syscall(u64 *f, u64 nr, u64 a1, u64 a2) {
  if (report_syscall) {
    report_syscall = 0;
    out("syscall.entry_rcx_is_handler", entry_rcx == (u64)syscall_entry);
    out("syscall.entry_r11_if", (entry_r11 >> 9) & 1);
    out("syscall.kernel_gs0", entry_gs0 == kgs_data);
    out("syscall.frame_below_kstack_top", (s64)(KSTACK_TOP - (u64)f));
    out("syscall.frame.rcx_is_rip", f[0] == f[2]);
    out("syscall.frame.rip_is_return", f[2] == (u64)user_sys_ret);
    outx("syscall.frame.cs", f[3]);
    out("syscall.frame.rflags_if", (f[4] >> 9) & 1);
    out("syscall.frame.rsp_in_user_stack", f[5] >= (u64)ustack && f[5] < USTACK_TOP);
    outx("syscall.frame.ss", f[6]);
    out("syscall.vi_mask", VI_MASK);
    out("syscall.nr", (s64)nr);
  }
  if (nr == SYS_OUT) {
    out((const char *)a1, (s64)a2);
    return 0;
  }
  if (nr == SYS_EXIT) leave_user(a1);
  return (u64)-38;
}

u64 k_trap(u64 *f, u64 vec) {
  if (vec == 14 && pf_quiet) {
    pf_count++;
    last_pf_code = f[2];
    last_pf_cr2 = VI_CR2;
    f[3] = pf_resume;
    return 0;
  }
  if (vec == 14) {
    /* rcx, r11, error code, rip, cs, rflags, rsp, ss */
    int user = (f[4] & 3) == 3;
    out(user ? "upf.error_code" : "kpf.error_code", (s64)f[2]);
    outx(user ? "upf.cs" : "kpf.cs", f[4]);
    out(user ? "upf.cr2_is_bad" : "kpf.cr2_is_alias", VI_CR2 == (user ? BAD : ALIAS + (u64)&magic));
    out(user ? "upf.frame_below_kstack_top" : "kpf.frame_on_kernel_stack",
        user ? (s64)(KSTACK_TOP - (u64)f) : ((u64)f < (u64)kstack || (u64)f >= KSTACK_TOP));
    out(user ? "upf.rsp_in_user_stack" : "kpf.rsp_is_kernel", user ? (f[6] >= (u64)ustack && f[6] < USTACK_TOP) : (f[6] > (u64)f));
    outx(user ? "upf.ss" : "kpf.ss", f[7]);
    out(user ? "upf.vi_mask" : "kpf.vi_mask", VI_MASK);
    f[3] = pf_resume;
    return 0;
  }
  if (vec == 13) {
    out("gp.error_code", (s64)f[2]);
    outx("gp.cs", f[4]);
    out("gp.frame_at", where(f));
    if (gp_leaves) {
      out("gp.rip_is_target", f[3] == (u64)user_spin);
      out("gp.vi_mask", VI_MASK);
      outx("gp.rflags", f[5] & 0x200);
      out("gp.rsp_is_user_top", f[6] == USTACK_TOP - 8);
      outx("gp.ss", f[7]);
      leave_user(2);
    }
    out("gp.rip_is_int81", f[3] == (u64)user_int81_at);
    f[3] += 2;
    return 0;
  }
  if (vec == 6) {
    /* rcx, r11, rip, cs, rflags, rsp, ss */
    out("ud.frame.rip_is_compat_syscall", f[2] + 2 == (u64)compat_user_syscall_ret);
    outx("ud.frame.cs", f[3]);
    leave_user(6);
  }
  if (vec == 0x80 && compat_session) {
    out("int80.frame.rip_is_after", f[2] == (u64)compat_user_int80_ret);
    outx("int80.frame.cs", f[3]);
    outx("int80.frame.ss", f[6]);
    out("int80.frame_below_kstack_top", (s64)(KSTACK_TOP - (u64)f));
    out("int80.rax", (s64)entry_rax);
    return 0x1234;
  }
  if (vec == 0x80) {
    /* rcx, r11, rip, cs, rflags, rsp, ss */
    out("int80.entry_rcx_is_handler", entry_rcx == (u64)trap_int80);
    out("int80.frame.rcx", (s64)f[0]);
    out("int80.frame.rip_is_after", f[2] == (u64)user_int80_ret);
    outx("int80.frame.cs", f[3]);
    out("int80.frame.rflags_if", (f[4] >> 9) & 1);
    out("int80.frame_below_kstack_top", (s64)(KSTACK_TOP - (u64)f));
    out("int80.rdi", (s64)entry_rdi);
    out("int80.vi_mask", VI_MASK);
    return 0x80 + entry_rdi;
  }
  if (vec == 0x100) {
    outx("upcall.frame.cs", f[3]);
    out("upcall.frame.rip_in_user_spin", f[2] >= (u64)user_spin && f[2] < (u64)user_sys_ret);
    out("upcall.frame.rflags_if", (f[4] >> 9) & 1);
    out("upcall.frame_below_kstack_top", (s64)(KSTACK_TOP - (u64)f));
    out("upcall.vi_mask", VI_MASK);
    out("upcall.timer_pending", (EV_PENDING[timer_port / 64] >> (timer_port % 64)) & 1);
    EV_MASK[timer_port / 64] |= 1UL << (timer_port % 64);
    EV_PENDING[timer_port / 64] &= ~(1UL << (timer_port % 64));
    VI_SEL = 0;
    VI_PENDING = 0;
    tick = 1;
    return 0;
  }
  out("unexpected.vector", (s64)vec);
  leave_user(99);
}

/* ---- user mode (CPL 3 on the user L4) ---- */

static void uout(const char *name, s64 v) { user_sys(SYS_OUT, (u64)name, (u64)v); }

static void user_main_a(void) {
  uout("user.hello", 1);
  uout("user.sysret.rcx_is_rip", last_user_rcx == (u64)user_sys_ret);
  uout("user.sysret.r11_if", (last_user_r11 >> 9) & 1);
  u64 g;
  asm volatile("mov %%gs:0, %0" : "=r"(g));
  uout("user.gs0_is_user", g == ugs_data);
  uout("user.alias_read", *(volatile u64 *)(ALIAS + (u64)&magic) == magic);
  asm volatile("lea 1f(%%rip), %%rax\n\t"
               "mov %%rax, pf_resume(%%rip)\n\t"
               "mov (%0), %%rax\n\t"
               "1:"
               :
               : "r"(BAD)
               : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
  uout("user.pf.resumed", 1);
  u64 r = user_int80(5);
  int kept = last_user_rcx == 0x5555;
  uout("user.int80.rax", (s64)r);
  uout("user.int80.rcx_kept", kept);
  user_int81();
  uout("user.int81.resumed", 1);
  user_sys(SYS_EXIT, 7, 0);
}

static void user_main_b(void) {
  uout("user_b.hello", 1);
  user_sys(SYS_EXIT, 8, 0);
}

/* ---- writable page tables: direct writes to the guest's own (read-only) L1 tables ---- */
static u8 ptwr_page[4096] __attribute__((aligned(4096)));
static u64 ptwr_data[512] __attribute__((aligned(4096)));
static const u64 *m2p_table = (const u64 *)0xFFFF800000000000UL;

static u64 *table_va(u64 entry) { return (u64 *)(m2p_table[(entry >> 12) & 0xffffffffffUL] << 12); }

/* A 64-bit store that may fault: returns 1 if the kernel's #PF handler saw it. */
static int store64(volatile u64 *p, u64 v) {
  u64 before = pf_count;
  asm volatile("lea 1f(%%rip), %%rax\n\t"
               "mov %%rax, pf_resume(%%rip)\n\t"
               "mov %1, (%0)\n\t"
               "1:"
               :
               : "r"(p), "r"(v)
               : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
  return pf_count != before;
}

static int store32(volatile u32 *p, u32 v) {
  u64 before = pf_count;
  asm volatile("lea 1f(%%rip), %%rax\n\t"
               "mov %%rax, pf_resume(%%rip)\n\t"
               "movl %k1, (%0)\n\t"
               "1:"
               :
               : "r"(p), "r"(v)
               : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
  return pf_count != before;
}

static void invlpg(void *va) {
  struct mmuext op = { 7, 0, (u64)va, 0 };
  hc5(HC_mmuext_op, (u64)&op, 1, 0, SELF, 0);
}

static void ptwr(u8 *si) {
  prefix = "ptwr.";
  pf_quiet = 1;
  const u64 *kl4 = *(const u64 **)(si + 88);
  u64 va = (u64)ptwr_page;
  u64 *l3 = table_va(kl4[(va >> 39) & 511]);
  u64 *l2 = table_va(l3[(va >> 30) & 511]);
  u64 *l1 = table_va(l2[(va >> 21) & 511]);
  volatile u64 *pte = &l1[(va >> 12) & 511];
  u64 orig = *pte;
  out("pte_maps_page", ((orig >> 12) & 0xffffffffffUL) == (maddr(ptwr_page) >> 12));
  ptwr_data[0] = 0x5157525f44415441UL;
  ((volatile u64 *)ptwr_page)[0] = 0x1111;
  u64 data_mfn = maddr(ptwr_data) >> 12;

  /* Without VMASST_TYPE_writable_pagetables a store to a page table is the guest's #PF. */
  out("no_assist.faulted", store64(pte, (data_mfn << 12) | 0x63));
  outx("no_assist.error_code", last_pf_code);
  out("vm_assist.writable_pagetables", hc2(HC_vm_assist, 0, 2));
  /* A full 64-bit store of a valid entry: emulated, validated, applied. */
  out("remap.faulted", store64(pte, (data_mfn << 12) | 0x63));
  invlpg(ptwr_page);
  out("remap.reads_new_frame", ((volatile u64 *)ptwr_page)[0] == ptwr_data[0]);
  outx("remap.entry_flags", *pte & 0xfff);
  out("remap.entry_user_bit", (*pte >> 2) & 1);
  /* The same value again (no change). */
  out("same.faulted", store64(pte, *pte));
  /* A frame the guest does not own, a writable mapping of a page table, reserved bits. */
  out("foreign.faulted", store64(pte, (0xfffffffUL << 12) | 0x63));
  outx("foreign.error_code", last_pf_code);
  out("foreign.cr2_is_pte", last_pf_cr2 == (u64)pte);
  out("pt_writable.faulted", store64(pte, (maddr(l1) & ~0xfffUL) | 0x63));
  out("reserved_bits.faulted", store64(pte, (data_mfn << 12) | 0x63 | (1UL << 51)));
  out("entry_unchanged", ((*pte >> 12) & 0xffffffffffUL) == data_mfn);
  /* A 32-bit store of the low half (the frame number fits): merged and applied. */
  out("low_half.faulted", store32((volatile u32 *)pte, (u32)(((maddr(ptwr_page) >> 12) << 12) | 0x63)));
  invlpg(ptwr_page);
  out("low_half.reads_old_frame", ((volatile u64 *)ptwr_page)[0] == 0x1111);
  /* Not-present entries: a zero store, then the original back. */
  out("zero.faulted", store64(pte, 0));
  out("zero.entry", (s64)*pte);
  out("restore.faulted", store64(pte, orig));
  invlpg(ptwr_page);
  out("restore.reads_old_frame", ((volatile u64 *)ptwr_page)[0] == 0x1111);
  /* An L2 page table is not emulated: the same value back still faults. */
  volatile u64 *l2e = &l2[(va >> 21) & 511];
  out("l2.faulted", store64(l2e, *l2e));
  outx("l2.error_code", last_pf_code);
  out("pf_count", (s64)pf_count);
  pf_quiet = 0;
  prefix = "";
}

/* Loads `sel` with SEGBASE_GS_USER_SEL; prints the result and the GS selector afterwards. */
static void load_gs_user(const char *name, u64 sel) {
  out(name, hc2(HC_set_segment_base, 3, sel));
  u16 got;
  asm volatile("mov %%gs, %0" : "=r"(got));
  const char *saved = prefix;
  puts_(prefix);
  puts_(name);
  prefix = "";
  outx(".gs", got);
  prefix = saved;
}

/* Session G: SEGBASE_GS_USER_SEL loads the selector into GS (RPL 3 forced) and the user GS base
   from its descriptor; a selector the load faults on becomes null. The kernel's GS base stays. */
static void gs_user_sel(void) {
  prefix = "g.";
  u64 g, va0;
  load_gs_user("flat_ds", FLAT_USER_SS);
  asm volatile("mov %%gs:0, %0" : "=r"(g));
  out("kernel_gs0_kept", g == kgs_data);
  asm volatile("movq 0, %0" : "=r"(va0));
  probe_gs0 = ~va0;
  s64 r = (s64)enter_user((u64)probe_mode, USTACK_TOP - 8, 0x2, FLAT_USER_CS, FLAT_USER_SS);
  out("user.exit", r);
  out("user.gs0_is_va0", probe_gs0 == va0);
  asm volatile("mov %%gs:0, %0" : "=r"(g));
  out("kernel_gs0_after", g == kgs_data);
  load_gs_user("rpl0", 0xe028);
  load_gs_user("flat_cs64", FLAT_USER_CS);
  load_gs_user("ring0_ds", 0xe010);
  load_gs_user("empty_gdt", 0x10);
  load_gs_user("ldt", 0x7);
  load_gs_user("high_bits", 0x12340000e02bUL);
  load_gs_user("null_rpl2", 2);
  out("gs_user.restore", hc2(HC_set_segment_base, 1, (u64)&ugs_data));
  probe_gs0 = 0;
  r = (s64)enter_user((u64)probe_mode, USTACK_TOP - 8, 0x2, FLAT_USER_CS, FLAT_USER_SS);
  out("user2.exit", r);
  out("user2.gs0_is_user", probe_gs0 == ugs_data);
  VI_MASK = 1;
  prefix = "";
}

struct trap_info { u8 vector, flags; u16 cs; u32 pad; u64 address; };
struct callback_register { u16 type, flags; u32 pad; u64 address; };
struct bind_virq { u32 virq, vcpu, port; };

void guest_main(u8 *si) {
  static const u64 *m2p = (const u64 *)0xFFFF800000000000UL;
  u64 cons_mfn = *(u64 *)(si + 72);
  cons_port = *(u32 *)(si + 80);
  cons = (volatile u8 *)(m2p[cons_mfn] << 12);
  p2m = *(const u64 **)(si + 104);
  const u64 *kl4 = *(const u64 **)(si + 88);
  puts_("\nTYPEVISOR-USER-REF begin\n");
  flush();

  out("map_shared_info", hc5(HC_update_va_mapping, (u64)shinfo_window, *(u64 *)(si + 40) | 0x67, 2, 0, 0));
  VI_MASK = 1;
  for (int i = 0; i < 64; i++) EV_MASK[i] = ~0UL;
  VI_SEL = 0;
  VI_PENDING = 0;
  out("set_segment_base.gs_kernel", hc2(HC_set_segment_base, 2, (u64)&kgs_data));
  out("set_segment_base.gs_user", hc2(HC_set_segment_base, 1, (u64)&ugs_data));
  struct trap_info traps[5] = {
    { 13, 0, FLAT_USER_CS, 0, (u64)trap_gp },
    { 14, 0, FLAT_USER_CS, 0, (u64)trap_pf },
    { 0x80, 3, FLAT_USER_CS, 0, (u64)trap_int80 },
    { 6, 0, FLAT_USER_CS, 0, (u64)trap_ud },
    { 0, 0, 0, 0, 0 },
  };
  out("set_trap_table", hc2(HC_set_trap_table, (u64)traps, 0));
  out("set_callbacks", hc5(HC_set_callbacks, (u64)event_entry, (u64)failsafe_entry, (u64)syscall_entry, 0, 0));
  out("stack_switch", hc2(HC_stack_switch, FLAT_USER_SS, KSTACK_TOP));

  /* The user L4: the kernel's L3 at slot 0 and again at slot 1 (ALIAS). */
  for (int i = 0; i < 512; i++) user_l4[i] = 0;
  user_l4[0] = kl4[0];
  user_l4[1] = kl4[0];
  u64 l4mfn = maddr(user_l4) >> 12;
  out("user_l4.new_user_baseptr.writable", new_user_baseptr(l4mfn));
  out("user_l4.remap_ro", hc5(HC_update_va_mapping, (u64)user_l4, (l4mfn << 12) | 0x25, 2, 0, 0));
  out("user_l4.new_user_baseptr.huge_mfn", new_user_baseptr(0xfffffffffUL));
  out("user_l4.new_user_baseptr.data_page", new_user_baseptr(maddr(ustack) >> 12));
  out("user_l4.new_user_baseptr", new_user_baseptr(l4mfn));

  /* Kernel mode runs on the kernel L4: the alias is not mapped there. */
  asm volatile("lea 1f(%%rip), %%rax\n\t"
               "mov %%rax, pf_resume(%%rip)\n\t"
               "mov (%0), %%rax\n\t"
               "1:"
               :
               : "r"(ALIAS + (u64)&magic)
               : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");

  /* Session A: events masked in user mode (RFLAGS.IF clear in the iret frame). */
  prefix = "a.";
  report_syscall = 1;
  s64 r = (s64)enter_user((u64)user_main_a, USTACK_TOP - 8, 0x2, FLAT_USER_CS, FLAT_USER_SS);
  out("exit", r);
  out("vi_mask_after", VI_MASK);
  u64 g;
  asm volatile("mov %%gs:0, %0" : "=r"(g));
  out("kernel_gs0_after", g == kgs_data);

  /* Session B: the syscall callback registered with CALLBACKF_mask_events, user IF set. */
  prefix = "b.";
  struct callback_register cb = { 2, 1, 0, (u64)syscall_entry };
  out("callback_op.syscall_mask_events", hc2(HC_callback_op, 0, (u64)&cb));
  report_syscall = 1;
  r = (s64)enter_user((u64)user_main_b, USTACK_TOP - 8, 0x202, FLAT_USER_CS, FLAT_USER_SS);
  out("exit", r);
  out("vi_mask_after", VI_MASK);
  VI_MASK = 1;
  out("set_callbacks", hc5(HC_set_callbacks, (u64)event_entry, (u64)failsafe_entry, (u64)syscall_entry, 0, 0));

  /* Session C: the timer upcall interrupts a user loop. */
  prefix = "c.";
  struct bind_virq bv = { 0, 0, 0 };
  out("bind_virq_timer", hc2(HC_event_channel_op, 1, (u64)&bv));
  timer_port = bv.port;
  tick = 0;
  /* Clear what the periodic timer may have left pending while masked, then EVTCHNOP_unmask. */
  EV_PENDING[timer_port / 64] &= ~(1UL << (timer_port % 64));
  VI_SEL = 0;
  VI_PENDING = 0;
  u32 up = timer_port;
  out("unmask_timer", hc2(HC_event_channel_op, 9, (u64)&up));
  /* A one-shot timer 2 ms after vcpu_info's system time (already past if that is stale). */
  u64 now = *(volatile u64 *)(shinfo_window + 32 + 16);
  out("set_timer_op", hc2(HC_set_timer_op, now + 2000000, 0));
  r = (s64)enter_user((u64)user_spin, USTACK_TOP - 8, 0x202, FLAT_USER_CS, FLAT_USER_SS);
  out("exit_count_gt0", r > 0);
  out("tick", (s64)tick);
  VI_MASK = 1;

  /* Session D: which mode iret picks (the frame's CS RPL before Xen forces it to 3). */
  prefix = "d.";
  probe_gs0 = 0;
  r = (s64)enter_user((u64)probe_mode, USTACK_TOP - 8, 0x2, FLAT_USER_CS, FLAT_USER_SS);
  out("rpl3.exit", r);
  out("rpl3.gs0_is_user", probe_gs0 == ugs_data);
  probe_gs0 = 0;
  probe_rax = 0;
  r = (s64)enter_user((u64)probe_mode, USTACK_TOP - 8, 0x2, 0xe030, 0xe028);
  out("rpl0.exit", r);
  out("rpl0.gs0_is_kernel", probe_gs0 == kgs_data);
  out("rpl0.hypercall_rax", (s64)probe_rax);
  VI_MASK = 1;

  /* Session E: iret frames whose CS cannot be loaded (null selector, RPL 3 and RPL 0). */
  prefix = "e.rpl3.";
  gp_leaves = 1;
  r = (s64)enter_user((u64)user_spin, USTACK_TOP - 8, 0x2, 3, FLAT_USER_SS);
  out("exit", r);
  out("vi_mask_after", VI_MASK);
  VI_MASK = 1;
  prefix = "e.rpl0.";
  r = (s64)enter_user((u64)user_spin, USTACK_TOP - 8, 0x2, 0, FLAT_USER_SS);
  out("exit", r);
  out("vi_mask_after", VI_MASK);
  VI_MASK = 1;
  gp_leaves = 0;
  prefix = "";

  ptwr(si);

  /* Session F: compatibility-mode user code (FLAT_USER_CS32): int $0x80, then syscall. */
  prefix = "f.";
  compat_session = 1;
  report_syscall = 1;
  r = (s64)enter_user((u64)compat_user, USTACK_TOP - 8, 0x2, 0xe023, FLAT_USER_SS);
  out("exit", r);
  out("syscall_pending_report", report_syscall);
  compat_session = 0;
  report_syscall = 0;
  VI_MASK = 1;
  prefix = "";

  gs_user_sel();

  puts_("TYPEVISOR-USER-REF end\n");
  flush();
  u32 reason = 0;
  hc2(HC_sched_op, 2, (u64)&reason);
  for (;;) yield();
}
