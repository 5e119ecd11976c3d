/*
 * ABI reference guest (64-bit PV, freestanding). Calls the PV hypercall families besides event
 * channels and grant tables (memory_op, multicall, vm_assist, set_segment_base, fpu_taskswitch,
 * stack_switch, callback_op, sched_op, set_timer_op, vcpu_op, physdev_op, xen_version) and the
 * forced-emulation CPUID prefix, valid and hostile arguments, and prints "name value" lines on the
 * PV console. Host-dependent values (frame numbers, reservations) are printed relative to
 * start_info or as comparisons, so the output is the same on any host. Rebuild with ./build.sh.
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
#define HC_set_gdt 2
#define HC_update_descriptor 10
#define HC_mmuext_op 26
#define HC_stack_switch 3
#define HC_set_callbacks 4
#define HC_fpu_taskswitch 5
#define HC_memory_op 12
#define HC_multicall 13
#define HC_update_va_mapping 14
#define HC_set_timer_op 15
#define HC_xen_version 17
#define HC_console_io 18
#define HC_vm_assist 21
#define HC_vcpu_op 24
#define HC_set_segment_base 25
#define HC_sched_op 29
#define HC_callback_op 30
#define HC_event_channel_op 32
#define HC_physdev_op 33

#define SELF 0x7ff0
/* Canonical but unmapped (0x10 would be mapped: the kernel mapping starts at virtual address 0). */
#define BAD 0x00007ff000000000UL

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

static void out(const char *name, s64 v) {
  puts_(name);
  putch(' ');
  putnum(v);
  puts_("\n");
  flush();
}

static void outx(const char *name, u64 v) {
  puts_(name);
  puts_(" 0x");
  for (int i = 60; i >= 0; i -= 4) putch("0123456789abcdef"[(v >> i) & 15]);
  puts_("\n");
  flush();
}

static void *memset_(void *p, int c, u64 n) { u8 *d = p; while (n--) *d++ = (u8)c; return p; }

static u8 scratch[4096] __attribute__((aligned(4096)));
static u8 shinfo_window[4096] __attribute__((aligned(4096)));
static const u64 *p2m;
static u64 nr_pages;
static const u64 *m2p = (const u64 *)0xFFFF800000000000UL;

/* ---- memory_op ---- */
struct reservation { u64 *extent_start; u64 nr_extents; u32 extent_order; u32 mem_flags; u16 domid; };
struct mfn_list { u32 max_extents; u32 pad; u64 *extent_start; u32 nr_extents; };
struct machphys_mapping { u64 v_start, v_end, max_mfn; };
struct memory_map { u32 nr_entries; u32 pad; void *buffer; };

static s64 memop(int cmd, void *arg) { return hc2(HC_memory_op, (u64)cmd, (u64)arg); }

static s64 reserve(int cmd, u64 *list, u64 n, u32 order, u16 dom) {
  struct reservation r;
  memset_(&r, 0, sizeof r);
  r.extent_start = list; r.nr_extents = n; r.extent_order = order; r.domid = dom;
  return memop(cmd, &r);
}

static s64 cur_res(u16 dom) { u16 d = dom; return memop(3, &d); }

static void memory_op(void) {
  u16 d = SELF;
  s64 cur0 = cur_res(SELF);
  out("mem.current_reservation.minus_nr_pages", cur0 - (s64)nr_pages);
  s64 max0 = memop(4, &d);
  out("mem.maximum_reservation.ge_current", max0 >= cur0);
  d = 0; out("mem.current_reservation.dom0", memop(3, &d));
  d = 300; out("mem.current_reservation.dom300", memop(3, &d));
  d = 0; out("mem.maximum_reservation.dom0", memop(4, &d));
  out("mem.current_reservation.bad_ptr", memop(3, (void *)BAD));
  s64 maxram = memop(2, 0);
  out("mem.maximum_ram_page.gt_nr_pages", maxram > (s64)nr_pages);
  d = SELF; out("mem.maximum_gpfn.minus_nr_pages", memop(14, &d) - (s64)nr_pages);

  u8 e820[4 * 20];
  struct memory_map mm = { 4, 0, e820 };
  memset_(e820, 0xee, sizeof e820);
  out("mem.memory_map", memop(9, &mm));
  out("mem.memory_map.nr_entries", mm.nr_entries);
  if (mm.nr_entries >= 1 && mm.nr_entries <= 4) {
    out("mem.memory_map.0.addr", *(u64 *)e820);
    out("mem.memory_map.0.pages_ge_nr_pages", (*(u64 *)(e820 + 8) >> 12) >= nr_pages);
    out("mem.memory_map.0.type", *(u32 *)(e820 + 16));
  }
  mm.nr_entries = 0; mm.buffer = e820;
  out("mem.memory_map.zero_entries", memop(9, &mm));
  out("mem.memory_map.zero_entries.nr", mm.nr_entries);
  mm.nr_entries = 4; mm.buffer = (void *)BAD;
  out("mem.memory_map.bad_buffer", memop(9, &mm));
  out("mem.memory_map.bad_ptr", memop(9, (void *)BAD));
  mm.nr_entries = 4; mm.buffer = e820;
  out("mem.machine_memory_map", memop(10, &mm));

  u64 mfns[4] = { 0, 0, 0, 0 };
  struct mfn_list ml = { 4, 0, mfns, 0 };
  out("mem.machphys_mfn_list", memop(5, &ml));
  out("mem.machphys_mfn_list.nr_gt0", ml.nr_extents > 0);
  out("mem.machphys_mfn_list.mfn0_nonzero", mfns[0] != 0);
  ml.max_extents = 0; ml.nr_extents = 77;
  out("mem.machphys_mfn_list.max0", memop(5, &ml));
  out("mem.machphys_mfn_list.max0.nr", ml.nr_extents);
  out("mem.machphys_mfn_list.bad_ptr", memop(5, (void *)BAD));
  struct machphys_mapping mp = { 0, 0, 0 };
  out("mem.machphys_mapping", memop(12, &mp));
  outx("mem.machphys_mapping.v_start", mp.v_start);
  out("mem.machphys_mapping.v_end_gt_start", mp.v_end > mp.v_start);
  out("mem.machphys_mapping.max_mfn_gt0", mp.max_mfn > 0);
  out("mem.machphys_mapping.bad_ptr", memop(12, (void *)BAD));
  out("mem.op_99", memop(99, &mp));

  /* Balloon round trip on the last page (outside the boot mappings). */
  u64 pfn = nr_pages - 1;
  u64 old_mfn = p2m[pfn];
  u64 list[4];
  list[0] = old_mfn;
  out("mem.decrease", reserve(1, list, 1, 0, SELF));
  out("mem.decrease.cur_delta", cur_res(SELF) - cur0);
  list[0] = old_mfn;
  out("mem.decrease.again", reserve(1, list, 1, 0, SELF));
  list[0] = pfn;
  out("mem.populate", reserve(6, list, 1, 0, SELF));
  out("mem.populate.m2p_is_pfn", m2p[list[0]] == pfn);
  out("mem.populate.cur_delta", cur_res(SELF) - cur0);
  u64 new_mfn = list[0];
  list[0] = 0;
  out("mem.increase", reserve(0, list, 1, 0, SELF));
  out("mem.increase.mfn_nonzero", list[0] != 0);
  out("mem.increase.cur_delta", cur_res(SELF) - cur0);
  out("mem.decrease.increased", reserve(1, list, 1, 0, SELF));
  out("mem.decrease.increased.cur_delta", cur_res(SELF) - cur0);
  (void)new_mfn;

  /* Hostile reservations. */
  list[0] = 0;
  out("mem.increase.order20", reserve(0, list, 1, 20, SELF));
  out("mem.populate.order20", reserve(6, list, 1, 20, SELF));
  out("mem.decrease.order20", reserve(1, list, 1, 20, SELF));
  out("mem.increase.dom0", reserve(0, list, 1, 0, 0));
  out("mem.increase.dom300", reserve(0, list, 1, 0, 300));
  out("mem.decrease.dom0", reserve(1, list, 1, 0, 0));
  out("mem.increase.bad_list", reserve(0, (u64 *)BAD, 1, 0, SELF));
  out("mem.decrease.bad_list", reserve(1, (u64 *)BAD, 1, 0, SELF));
  out("mem.populate.bad_list", reserve(6, (u64 *)BAD, 1, 0, SELF));
  out("mem.increase.bad_ptr", memop(0, (void *)BAD));
  out("mem.decrease.count0", reserve(1, list, 0, 0, SELF));
  list[0] = 0x0fffffffUL;
  out("mem.decrease.bad_mfn", reserve(1, list, 1, 0, SELF));
  out("mem.decrease.cur_delta_end", cur_res(SELF) - cur0);
}

/* ---- multicall ---- */
struct mc_entry { u64 op, result, args[6]; };
static struct mc_entry mc[8];
static char mc_text[] = "multicall console line\n";

static void multicall(void) {
  u32 feat[2] = { 0, 0 };
  memset_(mc, 0, sizeof mc);
  mc[0].op = HC_xen_version; mc[0].args[0] = 0;
  mc[1].op = HC_console_io; mc[1].args[0] = 0; mc[1].args[1] = 0; mc[1].args[2] = (u64)mc_text;
  mc[2].op = 99;
  mc[3].op = HC_xen_version; mc[3].args[0] = 6; mc[3].args[1] = BAD;
  mc[4].op = HC_vm_assist; mc[4].args[0] = 0; mc[4].args[1] = 99;
  mc[5].op = HC_multicall; mc[5].args[0] = (u64)mc; mc[5].args[1] = 1;
  mc[6].op = HC_xen_version; mc[6].args[0] = 6; mc[6].args[1] = (u64)feat;
  mc[7].op = 0x100000001UL;
  for (int i = 0; i < 8; i++) mc[i].result = 0x5a5a;
  out("multicall", hc2(HC_multicall, (u64)mc, 8));
  const char *names[8] = { "multicall.0.xen_version", "multicall.1.console_io", "multicall.2.nr99",
                           "multicall.3.bad_ptr", "multicall.4.vm_assist_bad", "multicall.5.nested",
                           "multicall.6.get_features", "multicall.7.op_high" };
  for (int i = 0; i < 8; i++) out(names[i], (s64)mc[i].result);
  outx("multicall.6.features", feat[1]);
  out("multicall.count0", hc2(HC_multicall, (u64)mc, 0));
  out("multicall.bad_ptr", hc2(HC_multicall, BAD, 2));
}

/* ---- CPUID through Xen's forced-emulation prefix ---- */
static void cpuid_xen(u32 leaf, u32 *r) {
  asm volatile("ud2; .ascii \"xen\"; cpuid"
               : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
               : "a"(leaf), "c"(0));
}

static void sig(const char *name, const u32 *r) {
  char s[13];
  for (int i = 0; i < 4; i++) { s[i] = (char)(r[1] >> (8 * i)); s[4 + i] = (char)(r[2] >> (8 * i)); s[8 + i] = (char)(r[3] >> (8 * i)); }
  s[12] = 0;
  puts_(name); putch(' '); puts_(s); puts_("\n"); flush();
}

static void cpuid(void) {
  u32 r[4];
  cpuid_xen(0x40000000, r);
  outx("cpuid.40000000.eax", r[0]);
  sig("cpuid.40000000.signature", r);
  cpuid_xen(0x40000001, r);
  outx("cpuid.40000001.eax", r[0]);
  cpuid_xen(0x40000002, r);
  outx("cpuid.40000002.eax", r[0]); outx("cpuid.40000002.ebx", r[1]);
  outx("cpuid.40000002.ecx", r[2]); outx("cpuid.40000002.edx", r[3]);
  /* TSC leaf: tsc_mode and incarnation; the flags and kHz depend on the host. */
  cpuid_xen(0x40000003, r);
  outx("cpuid.40000003.ebx", r[1]);
  out("cpuid.40000003.ecx_nonzero", r[2] != 0);
  outx("cpuid.40000003.edx", r[3]);
  /* PV leaf: EBX is the machine address width, which must cover every machine frame. */
  cpuid_xen(0x40000005, r);
  outx("cpuid.40000005.eax", r[0]);
  out("cpuid.40000005.ebx_covers_ram", r[1] < 64 && (1UL << r[1]) >= ((u64)hc2(HC_memory_op, 2, 0) << 12));
  outx("cpuid.40000005.ecx", r[2]);
  outx("cpuid.40000005.edx", r[3]);
  static const char *const leaves[] = { "cpuid.40000004", "cpuid.40000006", "cpuid.400000ff" };
  static const u32 nums[] = { 0x40000004, 0x40000006, 0x400000ff };
  for (int i = 0; i < 3; i++) {
    cpuid_xen(nums[i], r);
    puts_(leaves[i]); outx(".eax", r[0]);
    puts_(leaves[i]); outx(".ebx", r[1]);
    puts_(leaves[i]); outx(".ecx", r[2]);
    puts_(leaves[i]); outx(".edx", r[3]);
  }
  /* Leaves outside Xen's range: the same through the prefix as through a plain cpuid. */
  u32 n[4];
  cpuid_xen(0, r);
  asm volatile("cpuid" : "=a"(n[0]), "=b"(n[1]), "=c"(n[2]), "=d"(n[3]) : "a"(0), "c"(0));
  out("cpuid.0.prefix_equals_plain", r[0] == n[0] && r[1] == n[1] && r[2] == n[2] && r[3] == n[3]);
  cpuid_xen(1, r);
  out("cpuid.1.hypervisor_bit", (r[2] >> 31) & 1);
}

/* ---- the small families ---- */
static u64 fs_target = 0x1122334455667788UL;
static u64 gs_target = 0x99aabbccddeeff00UL;

static void small_families(void) {
  /* vm_assist */
  static const u32 types[] = { 0, 1, 2, 3, 4, 5, 6, 31, 32, 33, 63, 64 };
  static const char *const tnames[] = { "0", "1", "2", "3", "4", "5", "6", "31", "32", "33", "63", "64" };
  for (u32 i = 0; i < sizeof types / sizeof types[0]; i++) {
    puts_("vm_assist.enable."); out(tnames[i], hc2(HC_vm_assist, 0, types[i]));
  }
  for (u32 i = 0; i < sizeof types / sizeof types[0]; i++) {
    puts_("vm_assist.disable."); out(tnames[i], hc2(HC_vm_assist, 1, types[i]));
  }
  out("vm_assist.cmd2", hc2(HC_vm_assist, 2, 0));
  out("vm_assist.cmd_high", hc2(HC_vm_assist, 0x100000000UL, 0));

  /* set_segment_base */
  out("segbase.fs", hc2(HC_set_segment_base, 0, (u64)&fs_target));
  u64 v;
  asm volatile("mov %%fs:0, %0" : "=r"(v));
  outx("segbase.fs.read", v);
  out("segbase.gs_kernel", hc2(HC_set_segment_base, 2, (u64)&gs_target));
  asm volatile("mov %%gs:0, %0" : "=r"(v));
  outx("segbase.gs_kernel.read", v);
  out("segbase.gs_user", hc2(HC_set_segment_base, 1, 0x1000));
  out("segbase.gs_user_sel0", hc2(HC_set_segment_base, 3, 0));
  out("segbase.fs.noncanonical", hc2(HC_set_segment_base, 0, 0x0000800000000000UL));
  out("segbase.gs_kernel.noncanonical", hc2(HC_set_segment_base, 2, 0x8000000000000000UL));
  out("segbase.which4", hc2(HC_set_segment_base, 4, 0));
  out("segbase.which_high", hc2(HC_set_segment_base, 0x100000000UL, 0));
  out("segbase.fs.zero", hc2(HC_set_segment_base, 0, 0));
  out("segbase.gs_kernel.zero", hc2(HC_set_segment_base, 2, 0));

  /* fpu_taskswitch, stack_switch, set_callbacks */
  out("fpu_taskswitch.set", hc2(HC_fpu_taskswitch, 1, 0));
  out("fpu_taskswitch.clear", hc2(HC_fpu_taskswitch, 0, 0));
  out("fpu_taskswitch.other", hc2(HC_fpu_taskswitch, 7, 0));
  u64 sp;
  asm volatile("mov %%rsp, %0" : "=r"(sp));
  out("stack_switch.kernel_ss", hc2(HC_stack_switch, 0xe02b, sp));
  out("stack_switch.null_ss", hc2(HC_stack_switch, 0, sp));
  out("stack_switch.ring0_ss", hc2(HC_stack_switch, 0xe010, sp));
  out("set_callbacks", hc5(HC_set_callbacks, 0x100000, 0x100000, 0x100000, 0, 0));

  /* callback_op */
  struct { u16 type, flags; u32 pad; u64 address; } cb;
  static const u16 ctypes[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 99 };
  static const char *const cnames[] = { "event", "failsafe", "syscall", "sysenter", "nmi", "5", "6", "syscall32", "8", "99" };
  for (u32 i = 0; i < sizeof ctypes / sizeof ctypes[0]; i++) {
    memset_(&cb, 0, sizeof cb);
    cb.type = ctypes[i]; cb.address = 0x100000;
    puts_("callback.register."); out(cnames[i], hc2(HC_callback_op, 0, (u64)&cb));
  }
  memset_(&cb, 0, sizeof cb);
  cb.type = 0; cb.flags = 1; cb.address = 0x100000;
  out("callback.register.event_mask_flag", hc2(HC_callback_op, 0, (u64)&cb));
  cb.type = 0; cb.flags = 0; cb.address = 0x0000800000000000UL;
  out("callback.register.event_noncanonical", hc2(HC_callback_op, 0, (u64)&cb));
  struct { u16 type, pad; } ucb;
  static const u16 utypes[] = { 0, 1, 2, 4, 99 };
  static const char *const unames[] = { "event", "failsafe", "syscall", "nmi", "99" };
  for (u32 i = 0; i < sizeof utypes / sizeof utypes[0]; i++) {
    ucb.type = utypes[i]; ucb.pad = 0;
    puts_("callback.unregister."); out(unames[i], hc2(HC_callback_op, 1, (u64)&ucb));
  }
  out("callback.cmd2", hc2(HC_callback_op, 2, (u64)&cb));
  out("callback.bad_ptr", hc2(HC_callback_op, 0, BAD));
}

/* ---- event-channel helpers for the timer and poll checks ---- */
static s64 evtchn(int cmd, void *arg) { return hc2(HC_event_channel_op, (u64)cmd, (u64)arg); }
struct bind_virq { u32 virq, vcpu, port; };
struct bind_ipi { u32 vcpu, port; };
struct sched_poll { u32 *ports; u32 nr_ports; u32 pad; u64 timeout; };

static s64 poll(u32 *ports, u32 n, u64 timeout) {
  struct sched_poll p = { ports, n, 0, timeout };
  return hc2(HC_sched_op, 3, (u64)&p);
}

static void sched_timer_vcpu(u8 *si) {
  out("sched.yield", hc2(HC_sched_op, 0, 0));
  out("sched.cmd99", hc2(HC_sched_op, 99, 0));
  out("sched.remote_shutdown", hc2(HC_sched_op, 4, (u64)scratch));

  out("map_shared_info", hc5(HC_update_va_mapping, (u64)shinfo_window, *(u64 *)(si + 40) | 0x67, 2, 0, 0));
  volatile u64 *pend = (volatile u64 *)(shinfo_window + 2048);
  volatile u64 *mask = (volatile u64 *)(shinfo_window + 2560);

  struct bind_ipi ipi = { 0, 0 };
  out("poll.bind_ipi", evtchn(7, &ipi));
  u32 port = ipi.port;
  mask[port / 64] |= 1UL << (port % 64);
  u32 ports[2] = { port, port };
  u32 sendp = port;
  out("poll.send", evtchn(4, &sendp));
  out("poll.pending", poll(ports, 1, 0));
  out("poll.pending.bit", (pend[port / 64] >> (port % 64)) & 1);
  pend[port / 64] &= ~(1UL << (port % 64));
  out("poll.timeout_past", poll(ports, 2, 1));
  u32 bad[1] = { 5000 };
  out("poll.bad_port", poll(bad, 1, 1));
  bad[0] = 0;
  out("poll.port0", poll(bad, 1, 1));
  out("poll.nr129", poll(ports, 129, 1));
  out("poll.nr0_timeout", poll(ports, 0, 1));
  out("poll.bad_ports_ptr", poll((u32 *)BAD, 1, 1));
  out("poll.bad_ptr", hc2(HC_sched_op, 3, BAD));

  /* set_timer_op: rc only (delivery depends on the host's clock) */
  struct bind_virq bv = { 0, 0, 0 };
  out("timer.bind_virq", evtchn(1, &bv));
  out("timer.bind_virq.again", evtchn(1, &bv));
  out("set_timer_op.past", hc2(HC_set_timer_op, 1, 0));
  out("set_timer_op.cancel", hc2(HC_set_timer_op, 0, 0));
  out("set_timer_op.far", hc2(HC_set_timer_op, 0x7fffffffffffffffUL, 0));
  out("set_timer_op.negative", hc2(HC_set_timer_op, 0x8000000000000000UL, 0));
  out("set_timer_op.cancel2", hc2(HC_set_timer_op, 0, 0));

  /* vcpu_op */
  out("vcpu.is_up.0", hc5(HC_vcpu_op, 3, 0, 0, 0, 0));
  out("vcpu.is_up.1", hc5(HC_vcpu_op, 3, 1, 0, 0, 0));
  out("vcpu.is_up.huge", hc5(HC_vcpu_op, 3, 0xffffffffUL, 0, 0, 0));
  u64 rs[6];
  memset_(rs, 0xee, sizeof rs);
  out("vcpu.runstate", hc5(HC_vcpu_op, 4, 0, (u64)rs, 0, 0));
  out("vcpu.runstate.state", (s64)(u32)rs[0]);
  out("vcpu.runstate.running_gt0", rs[2] > 0);
  out("vcpu.runstate.bad_ptr", hc5(HC_vcpu_op, 4, 0, BAD, 0, 0));
  out("vcpu.runstate.vcpu1", hc5(HC_vcpu_op, 4, 1, (u64)rs, 0, 0));
  u64 period = 10000000;
  out("vcpu.set_periodic", hc5(HC_vcpu_op, 6, 0, (u64)&period, 0, 0));
  period = 1000;
  out("vcpu.set_periodic.short", hc5(HC_vcpu_op, 6, 0, (u64)&period, 0, 0));
  period = 0x100000000UL;
  out("vcpu.set_periodic.long", hc5(HC_vcpu_op, 6, 0, (u64)&period, 0, 0));
  out("vcpu.stop_periodic", hc5(HC_vcpu_op, 7, 0, 0, 0, 0));
  out("vcpu.set_periodic.bad_ptr", hc5(HC_vcpu_op, 6, 0, BAD, 0, 0));
  struct { u64 timeout; u32 flags; u32 pad; } ss = { 1, 0, 0 };
  out("vcpu.singleshot", hc5(HC_vcpu_op, 8, 0, (u64)&ss, 0, 0));
  ss.flags = 1;
  out("vcpu.singleshot.future_past", hc5(HC_vcpu_op, 8, 0, (u64)&ss, 0, 0));
  out("vcpu.stop_singleshot", hc5(HC_vcpu_op, 9, 0, 0, 0, 0));
  struct { u64 mfn; u32 offset; u32 rsvd; } vi = { 0x0fffffff, 0, 0 };
  out("vcpu.register_vcpu_info.bad_mfn", hc5(HC_vcpu_op, 10, 0, (u64)&vi, 0, 0));
  vi.mfn = p2m[((u64)scratch) >> 12]; vi.offset = 4090;
  out("vcpu.register_vcpu_info.bad_offset", hc5(HC_vcpu_op, 10, 0, (u64)&vi, 0, 0));
  out("vcpu.register_vcpu_info.bad_ptr", hc5(HC_vcpu_op, 10, 0, BAD, 0, 0));
  out("vcpu.register_vcpu_info.vcpu1", hc5(HC_vcpu_op, 10, 1, (u64)&vi, 0, 0));
  /* register_runstate_memory_area (Linux BUG()s if it fails): Xen writes the runstate at once. */
  u64 area = (u64)rs;
  memset_(rs, 0xee, sizeof rs);
  out("vcpu.runstate_area", hc5(HC_vcpu_op, 5, 0, (u64)&area, 0, 0));
  out("vcpu.runstate_area.state", (s64)(u32)rs[0]);
  out("vcpu.runstate_area.running_gt0", rs[2] > 0 && rs[2] != 0xeeeeeeeeeeeeeeeeUL);
  area = BAD;
  out("vcpu.runstate_area.unmapped", hc5(HC_vcpu_op, 5, 0, (u64)&area, 0, 0));
  area = 0xffff800000000000UL;
  out("vcpu.runstate_area.xen_range", hc5(HC_vcpu_op, 5, 0, (u64)&area, 0, 0));
  out("vcpu.runstate_area.bad_ptr", hc5(HC_vcpu_op, 5, 0, BAD, 0, 0));
  out("vcpu.runstate_area.vcpu1", hc5(HC_vcpu_op, 5, 1, (u64)&area, 0, 0));
  area = 0;
  out("vcpu.runstate_area.null", hc5(HC_vcpu_op, 5, 0, (u64)&area, 0, 0));
  out("vcpu.up.1", hc5(HC_vcpu_op, 2, 1, 0, 0, 0));
  out("vcpu.get_physid", hc5(HC_vcpu_op, 12, 0, (u64)scratch, 0, 0));
  out("vcpu.cmd99", hc5(HC_vcpu_op, 99, 0, 0, 0, 0));
}

static void physdev(void) {
  /* Every PHYSDEVOP_* number from 5 to 31 and one unknown, with a zeroed argument. */
  static const u32 cmds[] = { 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 99 };
  for (u32 i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    memset_(scratch, 0, 256);
    puts_("physdev.op"); out(cmds[i] == 99 ? "99" : (const char[]){ (char)('0' + cmds[i] / 10), (char)('0' + cmds[i] % 10), 0 }, hc2(HC_physdev_op, cmds[i], (u64)scratch));
  }
  *(u32 *)scratch = 3;
  out("physdev.set_iopl.3", hc2(HC_physdev_op, 6, (u64)scratch));
  *(u32 *)scratch = 0;
  out("physdev.set_iopl.0", hc2(HC_physdev_op, 6, (u64)scratch));
  out("physdev.set_iopl.bad_ptr", hc2(HC_physdev_op, 6, BAD));
  out("physdev.eoi.bad_ptr", hc2(HC_physdev_op, 12, BAD));
  out("physdev.irq_status_query.bad_ptr", hc2(HC_physdev_op, 5, BAD));
  *(u32 *)scratch = 0x7fffffff;
  out("physdev.irq_status_query.big", hc2(HC_physdev_op, 5, (u64)scratch));
  *(u32 *)scratch = 1;
  out("physdev.eoi.irq1", hc2(HC_physdev_op, 12, (u64)scratch));
}

static void version(void) {
  u32 f[2] = { 0, 0 };
  out("xen_version.get_features.0", hc2(HC_xen_version, 6, (u64)f));
  outx("xen_version.get_features.0.map", f[1]);
  f[0] = 1; f[1] = 0x5a5a;
  out("xen_version.get_features.1", hc2(HC_xen_version, 6, (u64)f));
  outx("xen_version.get_features.1.map", f[1]);
  out("xen_version.get_features.bad_ptr", hc2(HC_xen_version, 6, BAD));
  out("xen_version.pagesize", hc2(HC_xen_version, 7, 0));
  outx("xen_version.version", (u64)hc2(HC_xen_version, 0, 0));
  u64 pp = 0;
  out("xen_version.platform_parameters", hc2(HC_xen_version, 5, (u64)&pp));
  outx("xen_version.platform_parameters.virt_start", pp);
}

/* ---- guest descriptor tables: set_gdt, update_descriptor, MMUEXT_SET_LDT ---- */
extern volatile u64 fault_vec, fault_code, fault_resume;
extern char trap_11[], trap_12[], trap_13[], trap_14[], gate_target[];  /* a code address for the call gates */
struct trap_info { u8 vector, flags; u16 cs; u32 pad; u64 address; };
struct mmuext { u32 cmd, pad; u64 arg1, arg2; };

static u64 gdt_page[512] __attribute__((aligned(4096)));
static u64 ldt_page[512] __attribute__((aligned(4096)));
static u64 ldt2_page[512] __attribute__((aligned(4096)));

#define DATA3 0x00cff3000000ffffUL  /* flat data, DPL 3 */
#define DATA0 0x00cf93000000ffffUL  /* flat data, DPL 0: Xen raises DPL to 3 */

static u64 maddr(const void *va) { return (p2m[(u64)va >> 12] << 12) | ((u64)va & 0xfff); }
static s64 remap(void *va, u64 flags) {
  return hc5(HC_update_va_mapping, (u64)va, (maddr(va) & ~0xfffUL) | flags, 2, 0, 0);
}
static s64 set_ldt(u64 base, u64 ents) {
  struct mmuext op = { 13, 0, base, ents };
  return hc5(HC_mmuext_op, (u64)&op, 1, 0, SELF, 0);
}
static s64 update_desc(u64 ma, u64 d) { return hc2(HC_update_descriptor, ma, d); }

static void out2(const char *name, s64 a, s64 b) {
  puts_(name); putch(' '); putnum(a); putch(' '); putnum(b); puts_("\n"); flush();
}

/* Loads DS with sel: prints "name vector error_code" (0 0 when it loaded) and DS afterwards. */
static void load_ds(const char *name, u16 sel) {
  u16 got = 0xffff;
  fault_vec = 0; fault_code = 0;
  asm volatile("lea 1f(%%rip), %%rax\n\t"
               "mov %%rax, fault_resume(%%rip)\n\t"
               "mov %1, %%ds\n\t"
               "1:\n\t"
               "mov %%ds, %0"
               : "=r"(got) : "r"(sel) : "rax", "rcx", "r11", "memory");
  u16 zero = 0;
  asm volatile("mov %0, %%ds" :: "r"(zero));  /* never leave a guest selector for Xen to reload */
  out2(name, (s64)fault_vec, (s64)fault_code);
  if (!fault_vec) { puts_(name); outx(".ds", got); }
}

static void descriptors(void) {
  struct trap_info tt[5] = {
    { 11, 0, 0xe033, 0, (u64)trap_11 }, { 12, 0, 0xe033, 0, (u64)trap_12 },
    { 13, 0, 0xe033, 0, (u64)trap_13 }, { 14, 0, 0xe033, 0, (u64)trap_14 }, { 0, 0, 0, 0, 0 },
  };
  out("desc.set_trap_table", hc2(HC_set_trap_table, (u64)tt, 0));

  /* Before any set_gdt: Xen's reserved entries and an empty guest part. */
  load_ds("desc.xen.flat_ds", 0xe02b);
  load_ds("desc.xen.flat_cs64", 0xe033);
  load_ds("desc.xen.flat_cs32", 0xe023);
  load_ds("desc.xen.ring0_ds", 0xe010);
  load_ds("desc.xen.ring0_cs", 0xe008);
  load_ds("desc.xen.tss", 0xe040);
  load_ds("desc.xen.per_cpu", 0xe063);
  load_ds("desc.xen.last", 0xeffb);
  load_ds("desc.xen.past_limit", 0xf003);
  load_ds("desc.guest.empty", 0x000b);

  gdt_page[1] = DATA3;
  gdt_page[2] = DATA0;
  gdt_page[3] = 0x00affb000000ffffUL;       /* 64-bit code, DPL 3 */
  gdt_page[4] = 0x00cff2000000ffffUL;       /* data, accessed bit clear */
  gdt_page[5] = 0x00cf73000000ffffUL;       /* not present */
  u64 gate = (u64)gate_target;              /* call gate to FLAT_KERNEL_CS, DPL 3 */
  gdt_page[6] = (gate & 0xffff) | (0xe033UL << 16) | ((gate & 0xffff0000UL) << 32) | (0xecUL << 40);
  gdt_page[7] = gate >> 32;
  gdt_page[20] = DATA3;                     /* past `entries`, inside the frame */
  u64 frames[2] = { maddr(gdt_page) >> 12, 0 };

  out("desc.set_gdt.writable_mapping", hc2(HC_set_gdt, (u64)frames, 16));
  out("desc.gdt.remap_ro", remap(gdt_page, 0x25));
  out("desc.set_gdt.too_many", hc2(HC_set_gdt, (u64)frames, 7169));
  out("desc.set_gdt.max_bad_ptr", hc2(HC_set_gdt, BAD, 7168));
  out("desc.set_gdt.zero_bad_ptr", hc2(HC_set_gdt, BAD, 0));
  u64 bad_frames[1] = { 0x7ffffff };
  out("desc.set_gdt.foreign_frame", hc2(HC_set_gdt, (u64)bad_frames, 1));
  out("desc.set_gdt", hc2(HC_set_gdt, (u64)frames, 16));
  out("desc.gdt.remap_rw_in_use", remap(gdt_page, 0x67));
  outx("desc.gdt.entry2_dpl_raised", gdt_page[2]);
  load_ds("desc.gdt.data3", 0x0b);
  load_ds("desc.gdt.data0", 0x13);
  load_ds("desc.gdt.code64", 0x1b);
  load_ds("desc.gdt.unaccessed", 0x23);
  outx("desc.gdt.entry4_accessed", gdt_page[4]);
  load_ds("desc.gdt.not_present", 0x2b);
  load_ds("desc.gdt.gate", 0x33);
  load_ds("desc.gdt.past_entries_zero", 0x83);
  load_ds("desc.gdt.past_entries_in_frame", 0xa3);
  load_ds("desc.gdt.second_page", 0x1003);
  load_ds("desc.gdt.rpl0_dpl3", 0x08);
  load_ds("desc.xen.flat_ds_after", 0xe02b);

  /* update_descriptor */
  u64 ma = maddr(&gdt_page[9]);
  out("desc.update.data0", update_desc(ma, DATA0));
  outx("desc.update.data0.value", gdt_page[9]);
  load_ds("desc.update.load", 0x4b);
  out("desc.update.tss", update_desc(ma, 0x0000890000000067UL));
  out("desc.update.ldt_desc", update_desc(ma, 0x0000820000000067UL));
  out("desc.update.misaligned", update_desc(ma + 4, DATA3));
  out("desc.update.writable_page", update_desc(maddr(scratch) + 8, DATA0));
  outx("desc.update.writable_page.value", *(u64 *)(scratch + 8));
  out("desc.update.foreign_frame", update_desc(0x7ffffffUL << 12, DATA3));
  out("desc.update.huge_maddr", update_desc(0xfff0000000000000UL, DATA3));
  out("desc.update.gate_ring0_cs", update_desc(ma, (gate & 0xffff) | (0xe008UL << 16) | (0xecUL << 40)));
  out("desc.update.gate_guest_cs", update_desc(ma, (gate & 0xffff) | (0x18UL << 16) | (0xecUL << 40)));
  outx("desc.update.gate_guest_cs.value", gdt_page[9]);
  out("desc.update.gate_ldt_cs", update_desc(ma, (gate & 0xffff) | (0x1cUL << 16) | (0xecUL << 40)));
  out("desc.update.gate_xen_ds", update_desc(ma, (gate & 0xffff) | (0xe02bUL << 16) | (0xecUL << 40)));
  out("desc.update.gate_reserved_bits", update_desc(ma, (gate & 0xffff) | (0xe033UL << 16) | (0xec01UL << 32)));
  out("desc.update.gate32", update_desc(ma, (gate & 0xffff) | (0xe033UL << 16) | (0x8cUL << 40)));
  out("desc.update.code64_dpl0", update_desc(ma, 0x00af9b000000ffffUL));
  outx("desc.update.code64_dpl0.value", gdt_page[9]);
  out("desc.update.not_present", update_desc(ma, 0x1234567800001234UL));
  outx("desc.update.not_present.value", gdt_page[9]);
  out("desc.update.upper_half_zero", update_desc(ma, 0));

  /* LDT: lazily mapped on first use. */
  ldt_page[0] = DATA3;
  ldt_page[1] = DATA0;
  ldt2_page[0] = DATA3;
  out("desc.ldt.remap_ro", remap(ldt_page, 0x25));
  out("desc.set_ldt", set_ldt((u64)ldt_page, 8));
  load_ds("desc.ldt.data3", 0x07);
  load_ds("desc.ldt.data0", 0x0f);
  outx("desc.ldt.entry1_dpl_raised", ldt_page[1]);
  load_ds("desc.ldt.past_ents", 0x47);
  load_ds("desc.ldt.ti_rpl0", 0x04);
  out("desc.ldt.remap_rw_in_use", remap(ldt_page, 0x67));
  out("desc.set_ldt.misaligned", set_ldt((u64)ldt_page + 8, 8));
  out("desc.set_ldt.too_many", set_ldt((u64)ldt_page, 8193));
  out("desc.set_ldt.max", set_ldt((u64)ldt_page, 8192));
  out("desc.set_ldt.xen_area", set_ldt(0xffff800000000000UL, 8));
  out("desc.set_ldt.noncanonical", set_ldt(0x0000800000000000UL, 8));
  out("desc.set_ldt.writable_page", set_ldt((u64)ldt2_page, 8));
  fault_vec = 0;
  load_ds("desc.ldt.writable_page", 0x07);
  out("desc.ldt.writable_page.cr2_is_base", *(volatile u64 *)(shinfo_window + 16) == (u64)ldt2_page);
  out("desc.ldt.old_page_remap_rw", remap(ldt_page, 0x67));
  out("desc.set_ldt.none", set_ldt(0, 0));
  load_ds("desc.ldt.none", 0x07);
  out("desc.set_ldt.unmapped", set_ldt(BAD, 8));
  load_ds("desc.ldt.unmapped", 0x0f);
  out("desc.ldt.unmapped.cr2_is_base_plus_8", *(volatile u64 *)(shinfo_window + 16) == BAD + 8);
  out("desc.set_ldt.none_again", set_ldt(0, 0));

  /* Dropping the GDT. */
  out("desc.set_gdt.none", hc2(HC_set_gdt, BAD, 0));
  load_ds("desc.gdt.after_none", 0x0b);
  out("desc.gdt.remap_rw_after", remap(gdt_page, 0x67));
  out("desc.set_trap_table.clear", hc2(HC_set_trap_table, 0, 0));
}

void guest_main(u8 *si) {
  u64 cons_mfn = *(u64 *)(si + 72);
  cons_port = *(u32 *)(si + 80);
  cons = (volatile u8 *)(m2p[cons_mfn] << 12);
  p2m = *(const u64 **)(si + 104);
  nr_pages = *(u64 *)(si + 32);
  puts_("\nTYPEVISOR-ABI-REF begin\n");
  flush();
  version();
  cpuid();
  multicall();
  small_families();
  memory_op();
  physdev();
  sched_timer_vcpu(si);
  descriptors();
  puts_("TYPEVISOR-ABI-REF end\n");
  flush();
  u32 reason = 0;
  hc2(HC_sched_op, 2, (u64)&reason);
  for (;;) yield();
}
