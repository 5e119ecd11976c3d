/*
 * Compat user-mode reference guest (32-bit PAE PV, ring-1 kernel, freestanding; gcc -m32): the
 * 32-bit build of user.c's checks. The kernel registers a DPL-3 `int $0x80` trap_info, #GP/#PF
 * handlers, the event callback and a kernel stack, and enters ring 3 with HYPERVISOR_iret (compat
 * frame); it prints what its handlers see of ring-3 system calls, a ring-1 and a ring-3 #PF,
 * `int $0x80` and `int $0x81`, a one-shot timer upcall interrupting a ring-3 loop and iret frames
 * with a null CS (RPL 3), with user.c's line names where the semantics agree. Compat has no syscall
 * callback, no user page table and no GS bases, so ring-3 system calls use `int $0x85` (a DPL-3
 * trap_info with the event-masking flag) and the kernel/user split is the PTEs' user bit.
 * tests/pv-boot32/user-ref32.test.ts lists every difference from the 64-bit golden. Rebuild with
 * ./build.sh.
 */
typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef long long s64;

extern char hypercall_page[];

static int hc5(int nr, u32 a1, u32 a2, u32 a3, u32 a4, u32 a5) {
  int ret;
  asm volatile("call *%%eax"
               : "=a"(ret), "+b"(a1), "+c"(a2), "+d"(a3), "+S"(a4), "+D"(a5)
               : "0"(hypercall_page + nr * 32)
               : "memory");
  return ret;
}
static int hc2(int nr, u32 a1, u32 a2) { return hc5(nr, a1, a2, 0, 0, 0); }

#define HC_set_trap_table 0
#define HC_stack_switch 3
#define HC_set_callbacks 4
#define HC_update_va_mapping 14
#define HC_set_timer_op 15
#define HC_console_io 18
#define HC_sched_op 29
#define HC_callback_op 30
#define HC_set_segment_base 25
#define HC_event_channel_op 32
#define HC_mmuext_op 26

#define SELF 0x7ff0
/* Unmapped in the guest (its memory and boot mapping are far below). */
#define BAD 0x7ff00000U
#define FLAT_RING1_CS 0xe019U
#define FLAT_RING1_DS 0xe021U
#define FLAT_RING3_CS 0xe02bU
#define FLAT_RING3_DS 0xe033U
#define SYS_OUT 1
#define SYS_EXIT 60

static char line[128];
static u32 len;
static const char *prefix = "";

static void putch(char c) { if (len < sizeof line) line[len++] = c; }
static void puts_(const char *s) { while (*s) putch(*s++); }
static void flush(void) { hc5(HC_console_io, 0, len, (u32)line, 0, 0); len = 0; }
static void putnum(s64 v) {
  char buf[24];
  int i = 0;
  u64 u = v < 0 ? (u64)(-v) : (u64)v;
  if (v < 0) putch('-');
  do { buf[i++] = (char)('0' + u % 10); u /= 10; } while (u);
  while (i) putch(buf[--i]);
}
static void out(const char *name, s64 v) { puts_(prefix); puts_(name); putch(' '); putnum(v); puts_("\n"); flush(); }
static void outx(const char *name, u64 v) {
  puts_(prefix);
  puts_(name);
  puts_(" 0x");
  for (int i = 60; i >= 0; i -= 4) putch("0123456789abcdef"[(v >> i) & 15]);
  puts_("\n");
  flush();
}

extern u32 enter_user(u32 eip, u32 esp, u32 eflags, u32 cs, u32 ss);
extern void leave_user(u32 value) __attribute__((noreturn));
extern char trap_gp[], trap_pf[], trap_int80[], trap_sys[], event_entry[], failsafe_entry[];
extern char user_spin[], user_sys_ret[], user_int80_ret[], user_int81_at[], _start[], _image_end[];
extern u32 user_sys(u32 nr, u32 a1, u32 a2);
extern u32 user_int80(u32 a1);
extern void user_int81(void);
extern volatile u32 entry_eax, entry_edi, entry_esi, entry_ecx, last_user_ecx, tick;

static u8 kstack[16384] __attribute__((aligned(16)));
static u8 ustack[16384] __attribute__((aligned(16)));
#define KSTACK_TOP ((u32)kstack + sizeof kstack)
#define USTACK_TOP ((u32)ustack + sizeof ustack)
static u8 shinfo_window[4096] __attribute__((aligned(4096)));
static u8 not_a_table[4096] __attribute__((aligned(4096)));
static const u32 *p2m;
u32 pf_resume;
static int report_syscall;
static int gp_leaves;
static u32 timer_port;

/* Where a bounce frame is: its distance below the kernel stack top, or minus its distance below
   the user stack top. */
static int where(const u32 *f) {
  if ((u32)f >= (u32)kstack && (u32)f < KSTACK_TOP) return (int)(KSTACK_TOP - (u32)f);
  if ((u32)f >= (u32)ustack && (u32)f < USTACK_TOP) return -(int)(USTACK_TOP - (u32)f);
  return 999999;
}

/* Compat vcpu_info[0] and shared_info: 32-bit selector and event bitmaps. */
#define VI_PENDING (*(volatile u8 *)(shinfo_window + 0))
#define VI_MASK (*(volatile u8 *)(shinfo_window + 1))
#define VI_SEL (*(volatile u32 *)(shinfo_window + 4))
#define VI_CR2 (*(volatile u32 *)(shinfo_window + 8))
#define EV_PENDING ((volatile u32 *)(shinfo_window + 2048))
#define EV_MASK ((volatile u32 *)(shinfo_window + 2048 + 128))

static u64 maddr(const void *va) { return ((u64)p2m[(u32)va >> 12] << 12) | ((u32)va & 0xfff); }
static int remap(const void *va, u32 flags) {
  u64 pte = (maddr(va) & ~0xfffULL) | flags;
  return hc5(HC_update_va_mapping, (u32)va, (u32)pte, (u32)(pte >> 32), 2, 0);
}
struct mmuext { u32 cmd, arg1, arg2; };
static int new_user_baseptr(u32 mfn) {
  struct mmuext op = { 15, mfn, 0 };
  return hc5(HC_mmuext_op, (u32)&op, 1, 0, SELF, 0);
}

/* ---- the ring-1 kernel's handlers (frame: [error code], eip, cs, eflags, [esp, ss]) ---- */

u32 k_trap(u32 *f, u32 vec) {
  if (vec == 0x85) {
    u32 nr = entry_eax, a1 = entry_edi, a2 = entry_esi;
    if (report_syscall) {
      report_syscall = 0;
      out("syscall.frame_below_kstack_top", (s64)(KSTACK_TOP - (u32)f));
      out("syscall.frame.rip_is_return", f[0] == (u32)user_sys_ret);
      outx("syscall.frame.cs", f[1]);
      out("syscall.frame.rflags_if", (f[2] >> 9) & 1);
      out("syscall.frame.rsp_in_user_stack", f[3] >= (u32)ustack && f[3] < USTACK_TOP);
      outx("syscall.frame.ss", f[4]);
      out("syscall.vi_mask", VI_MASK);
      out("syscall.nr", (s64)nr);
    }
    if (nr == SYS_OUT) {
      out((const char *)a1, (s64)(int)a2);
      return 0;
    }
    if (nr == SYS_EXIT) leave_user(a1);
    return (u32)-38;
  }
  if (vec == 14) {
    int user = (f[2] & 3) == 3;
    out(user ? "upf.error_code" : "kpf.error_code", (s64)f[0]);
    outx(user ? "upf.cs" : "kpf.cs", f[2]);
    out(user ? "upf.cr2_is_bad" : "kpf.cr2_is_alias", VI_CR2 == (user ? BAD : BAD + 0x1000));
    out(user ? "upf.frame_below_kstack_top" : "kpf.frame_on_kernel_stack",
        user ? (s64)(KSTACK_TOP - (u32)f) : ((u32)f < (u32)kstack || (u32)f >= KSTACK_TOP));
    if (user) {
      out("upf.rsp_in_user_stack", f[4] >= (u32)ustack && f[4] < USTACK_TOP);
      outx("upf.ss", f[5]);
    }
    out(user ? "upf.vi_mask" : "kpf.vi_mask", VI_MASK);
    f[1] = pf_resume;
    return 0;
  }
  if (vec == 13) {
    out("gp.error_code", (s64)f[0]);
    outx("gp.cs", f[2]);
    out("gp.frame_at", where(f));
    if (gp_leaves) {
      out("gp.rip_is_target", f[1] == (u32)user_spin);
      out("gp.vi_mask", VI_MASK);
      outx("gp.rflags", f[3] & 0x200);
      out("gp.rsp_is_user_top", f[4] == USTACK_TOP - 8);
      outx("gp.ss", f[5]);
      leave_user(2);
    }
    out("gp.rip_is_int81", f[1] == (u32)user_int81_at);
    f[1] += 2;
    return 0;
  }
  if (vec == 0x80) {
    out("int80.frame.rip_is_after", f[0] == (u32)user_int80_ret);
    outx("int80.frame.cs", f[1]);
    out("int80.frame.rflags_if", (f[2] >> 9) & 1);
    out("int80.frame_below_kstack_top", (s64)(KSTACK_TOP - (u32)f));
    out("int80.rdi", (s64)entry_edi);
    out("int80.vi_mask", VI_MASK);
    return 0x80 + entry_edi;
  }
  if (vec == 0x100) {
    outx("upcall.frame.cs", f[1]);
    out("upcall.frame.rip_in_user_spin", f[0] >= (u32)user_spin && f[0] < (u32)user_sys_ret);
    out("upcall.frame.rflags_if", (f[2] >> 9) & 1);
    out("upcall.frame_below_kstack_top", (s64)(KSTACK_TOP - (u32)f));
    out("upcall.vi_mask", VI_MASK);
    out("upcall.timer_pending", (EV_PENDING[timer_port / 32] >> (timer_port % 32)) & 1);
    EV_MASK[timer_port / 32] |= 1U << (timer_port % 32);
    EV_PENDING[timer_port / 32] &= ~(1U << (timer_port % 32));
    VI_SEL = 0;
    VI_PENDING = 0;
    tick = 1;
    return 0;
  }
  out("unexpected.vector", (s64)vec);
  leave_user(99);
}

/* ---- ring 3 ---- */

static void uout(const char *name, int v) { user_sys(SYS_OUT, (u32)name, (u32)v); }

static void user_main_a(void) {
  uout("user.hello", 1);
  asm volatile("movl $1f, pf_resume\n\t"
               "mov (%0), %%eax\n\t"
               "1:"
               :
               : "r"(BAD)
               : "eax", "ecx", "edx", "memory");
  uout("user.pf.resumed", 1);
  u32 r = user_int80(5);
  int kept = last_user_ecx == 0x5555;
  uout("user.int80.rax", (int)r);
  uout("user.int80.rcx_kept", kept);
  user_int81();
  uout("user.int81.resumed", 1);
  user_sys(SYS_EXIT, 7, 0);
}

static void user_main_b(void) {
  uout("user_b.hello", 1);
  user_sys(SYS_EXIT, 8, 0);
}

static void user_main_c(void) {
  u32 r = user_int80(9);
  uout("user.int80.rax", (int)r);
  user_sys(SYS_EXIT, 9, 0);
}

struct trap_info { u8 vector, flags; u16 cs; u32 address; };
struct callback_register { u16 type, flags; u32 cs, eip; };
struct bind_virq { u32 virq, vcpu, port; };

void guest_main(u8 *si) {
  p2m = *(const u32 **)(si + 68);
  puts_("\nTYPEVISOR-USER-REF begin\n");
  flush();

  /* Ring 3 runs the image's code and data: every page of it with the user bit. */
  int user_pages = 0;
  for (u32 va = (u32)_start & ~0xfffU; va < (u32)_image_end; va += 4096)
    user_pages += remap((const void *)va, 0x67) == 0;
  int image_pages = (int)((((u32)_image_end + 0xfff) - ((u32)_start & ~0xfffU)) >> 12);

  u32 shared = *(u32 *)(si + 36);
  u64 pte = (u64)(shared & ~0xfffU) | 0x67;
  out("map_shared_info", hc5(HC_update_va_mapping, (u32)shinfo_window, (u32)pte, (u32)(pte >> 32), 2, 0));
  VI_MASK = 1;
  for (int i = 0; i < 32; i++) EV_MASK[i] = ~0U;
  VI_SEL = 0;
  VI_PENDING = 0;
  out("set_segment_base.gs_kernel", hc2(HC_set_segment_base, 2, 0x1000));
  out("set_segment_base.gs_user", hc2(HC_set_segment_base, 1, 0x1000));
  struct trap_info traps[6] = {
    { 13, 0, FLAT_RING1_CS, (u32)trap_gp },
    { 14, 0, FLAT_RING1_CS, (u32)trap_pf },
    { 0x80, 3, FLAT_RING1_CS, (u32)trap_int80 },
    { 0x85, 3 | 4, FLAT_RING1_CS, (u32)trap_sys },
    { 0, 0, 0, 0 },
  };
  out("set_trap_table", hc2(HC_set_trap_table, (u32)traps, 0));
  out("set_callbacks", hc5(HC_set_callbacks, FLAT_RING1_CS, (u32)event_entry, FLAT_RING1_CS, (u32)failsafe_entry, 0));
  out("stack_switch", hc2(HC_stack_switch, FLAT_RING1_DS, KSTACK_TOP));

  /* A compat domain has no user page table: MMUEXT_NEW_USER_BASEPTR is -EINVAL however used. */
  u32 mfn = (u32)(maddr(not_a_table) >> 12);
  out("user_l4.new_user_baseptr.writable", new_user_baseptr(mfn));
  out("user_l4.remap_ro", remap(not_a_table, 0x25));
  out("user_l4.new_user_baseptr.huge_mfn", new_user_baseptr(0xfffffffU));
  out("user_l4.new_user_baseptr.data_page", new_user_baseptr((u32)(maddr(ustack) >> 12)));
  out("user_l4.new_user_baseptr", new_user_baseptr(mfn));

  /* A ring-1 #PF: a read of an unmapped page (the alias of the 64-bit build has no counterpart). */
  asm volatile("movl $1f, pf_resume\n\t"
               "mov (%0), %%eax\n\t"
               "1:"
               :
               : "r"(BAD + 0x1000)
               : "eax", "ecx", "edx", "memory");

  /* Session A: events masked in ring 3 (EFLAGS.IF clear in the iret frame). */
  prefix = "a.";
  report_syscall = 1;
  int r = (int)enter_user((u32)user_main_a, USTACK_TOP - 8, 0x2, FLAT_RING3_CS, FLAT_RING3_DS);
  out("exit", r);
  out("vi_mask_after", VI_MASK);

  /* Session B: compat has no syscall callback (-ENOSYS for CALLBACKTYPE_syscall); the system-call
     trap_info masks events, user IF set. */
  prefix = "b.";
  struct callback_register cb = { 2, 1, FLAT_RING1_CS, (u32)trap_sys };
  out("callback_op.syscall_mask_events", hc2(HC_callback_op, 0, (u32)&cb));
  report_syscall = 1;
  r = (int)enter_user((u32)user_main_b, USTACK_TOP - 8, 0x202, FLAT_RING3_CS, FLAT_RING3_DS);
  out("exit", r);
  out("vi_mask_after", VI_MASK);
  VI_MASK = 1;
  out("set_callbacks", hc5(HC_set_callbacks, FLAT_RING1_CS, (u32)event_entry, FLAT_RING1_CS, (u32)failsafe_entry, 0));

  /* Session C: the timer upcall interrupts a ring-3 loop. */
  prefix = "c.";
  struct bind_virq bv = { 0, 0, 0 };
  out("bind_virq_timer", hc2(HC_event_channel_op, 1, (u32)&bv));
  timer_port = bv.port;
  tick = 0;
  EV_PENDING[timer_port / 32] &= ~(1U << (timer_port % 32));
  VI_SEL = 0;
  VI_PENDING = 0;
  u32 up = timer_port;
  out("unmask_timer", hc2(HC_event_channel_op, 9, (u32)&up));
  u64 now = *(volatile u64 *)(shinfo_window + 32 + 16);
  u64 when = now + 2000000;
  out("set_timer_op", hc2(HC_set_timer_op, (u32)when, (u32)(when >> 32)));
  r = (int)enter_user((u32)user_spin, USTACK_TOP - 8, 0x202, FLAT_RING3_CS, FLAT_RING3_DS);
  out("exit_count_gt0", r > 0);
  out("tick", (s64)tick);
  VI_MASK = 1;

  /* Session E: an iret frame whose CS cannot be loaded (null selector, RPL 3). RPL 0 has no
     compat counterpart: compat_iret crashes the domain for a ring-0 CS. */
  prefix = "e.rpl3.";
  gp_leaves = 1;
  r = (int)enter_user((u32)user_spin, USTACK_TOP - 8, 0x2, 3, FLAT_RING3_DS);
  out("exit", r);
  out("vi_mask_after", VI_MASK);
  VI_MASK = 1;
  gp_leaves = 0;

  /* Compat only: `int $0x80` from ring 3 with a DPL-0 trap_info still reaches its handler (Xen's
     IDT gate 0x80 has DPL 3: int80_direct_trap ignores the trap_info DPL); `int $0x81` stays #GP. */
  prefix = "compat.int80_dpl0.";
  traps[2].flags = 0;
  out("set_trap_table", hc2(HC_set_trap_table, (u32)traps, 0));
  r = (int)enter_user((u32)user_main_c, USTACK_TOP - 8, 0x2, FLAT_RING3_CS, FLAT_RING3_DS);
  out("exit", r);
  VI_MASK = 1;

  /* Compat only. */
  prefix = "compat.";
  out("user_pages_mapped", user_pages == image_pages);
  struct callback_register cb32 = { 7, 0, FLAT_RING1_CS, (u32)trap_sys };
  out("callback_op.syscall32", hc2(HC_callback_op, 0, (u32)&cb32));
  struct callback_register cbse = { 6, 0, FLAT_RING1_CS, (u32)trap_sys };
  out("callback_op.sysenter", hc2(HC_callback_op, 0, (u32)&cbse));
  prefix = "";

  puts_("TYPEVISOR-USER-REF end\n");
  flush();
  u32 reason = 0;
  hc2(HC_sched_op, 2, (u32)&reason);
  for (;;) hc2(HC_sched_op, 0, 0);
}
