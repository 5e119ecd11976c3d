/*
 * Compat ABI reference guest (32-bit PAE PV, ring 1, freestanding; gcc -m32). Runs guest.c's
 * xen_version, multicall, vm_assist, fpu_taskswitch, stack_switch, memory_op's balloon round
 * trip, physdev_op, SCHEDOP_poll and descriptor-table checks through the compat ABI (4-byte
 * platform_parameters, 32-byte multicall entries, 20-byte xen_memory_reservation with 4-byte
 * extents, 8-byte
 * physdev_set_iobitmap, 16-byte sched_poll, 32-bit event-channel bitmaps, 8-byte trap_info,
 * 4-byte set_gdt frame list, update_descriptor(pa_lo, pa_hi, d_lo, d_hi), 12-byte mmuext_op)
 * with the same arguments, selectors, descriptor values and line names, and prints "name value"
 * lines with
 * console_io. xen-reference runs 64-bit PV guests only, so its expected output is the 64-bit
 * golden's lines with the compat ABI's documented differences (tests/pv-boot32). Rebuild with
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
#define HC_set_gdt 2
#define HC_update_descriptor 10
#define HC_update_va_mapping 14
#define HC_stack_switch 3
#define HC_fpu_taskswitch 5
#define HC_xen_version 17
#define HC_vm_assist 21
#define HC_console_io 18
#define HC_event_channel_op 32
#define HC_physdev_op 33
#define HC_mmuext_op 26
#define HC_sched_op 29
#define HC_memory_op 12

#define SELF 0x7ff0
/* Unmapped in the guest (its memory and boot mapping are far below). */
#define BAD 0x7ff00000U
/* FLAT_KERNEL_CS of the compat ABI: FLAT_RING1_CS. */
#define KERNEL_CS 0xe019

static char line[128];
static u32 len;

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
static void out(const char *name, s64 v) { puts_(name); putch(' '); putnum(v); puts_("\n"); flush(); }
static void outx(const char *name, u64 v) {
  puts_(name);
  puts_(" 0x");
  for (int i = 60; i >= 0; i -= 4) putch("0123456789abcdef"[(v >> i) & 15]);
  puts_("\n");
  flush();
}
static void out2(const char *name, s64 a, s64 b) {
  puts_(name); putch(' '); putnum(a); putch(' '); putnum(b); puts_("\n"); flush();
}

static void *memset_(void *p, int c, u32 n) { u8 *d = p; while (n--) *d++ = (u8)c; return p; }

static u8 scratch[4096] __attribute__((aligned(4096)));
static u8 shinfo_window[4096] __attribute__((aligned(4096)));
static const u32 *p2m;

extern volatile u32 fault_vec, fault_code, fault_resume, fault_cs, gate_hit;
extern char trap_11[], trap_12[], trap_13[], trap_14[], gate_target[], call_target[];
struct trap_info { u8 vector, flags; u16 cs; u32 address; };
struct mmuext { u32 cmd, arg1, arg2; };

static u64 gdt_page[512] __attribute__((aligned(4096)));
static u64 ldt_page[512] __attribute__((aligned(4096)));
static u64 ldt2_page[512] __attribute__((aligned(4096)));

#define DATA3 0x00cff3000000ffffULL  /* flat data, DPL 3 */
#define DATA0 0x00cf93000000ffffULL  /* flat data, DPL 0: Xen raises DPL to 1 */

static u64 maddr(const void *va) { return ((u64)p2m[(u32)va >> 12] << 12) | ((u32)va & 0xfff); }
static int remap(void *va, u32 flags) {
  u64 pte = (maddr(va) & ~0xfffULL) | flags;
  return hc5(HC_update_va_mapping, (u32)va, (u32)pte, (u32)(pte >> 32), 2, 0);
}
static int set_ldt(u32 base, u32 ents) {
  struct mmuext op = { 13, base, ents };
  return hc5(HC_mmuext_op, (u32)&op, 1, 0, SELF, 0);
}
static int update_desc(u64 ma, u64 d) {
  return hc5(HC_update_descriptor, (u32)ma, (u32)(ma >> 32), (u32)d, (u32)(d >> 32), 0);
}

/* Loads DS with sel: prints "name vector error_code" (0 0 when it loaded) and DS afterwards. */
static void load_ds(const char *name, u16 sel) {
  u16 got = 0xffff;
  fault_vec = 0; fault_code = 0;
  asm volatile("movl $1f, fault_resume\n\t"
               "mov %1, %%ds\n\t"
               "1:\n\t"
               "mov %%ds, %0"
               : "=r"(got) : "r"(sel) : "memory");
  u16 flat = 0xe021;
  asm volatile("mov %0, %%ds" :: "r"(flat));  /* back to FLAT_RING1_DS before any C code */
  out2(name, (s64)fault_vec, (s64)fault_code);
  if (!fault_vec) { puts_(name); outx(".ds", got); }
}

static void descriptors(void) {
  struct trap_info tt[5] = {
    { 11, 0, KERNEL_CS, (u32)trap_11 }, { 12, 0, KERNEL_CS, (u32)trap_12 },
    { 13, 0, KERNEL_CS, (u32)trap_13 }, { 14, 0, KERNEL_CS, (u32)trap_14 }, { 0, 0, 0, 0 },
  };
  out("desc.set_trap_table", hc2(HC_set_trap_table, (u32)tt, 0));

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
  gdt_page[3] = 0x00cffb000000ffffULL;      /* 32-bit code, DPL 3 (a compat guest has no L bit) */
  gdt_page[4] = 0x00cff2000000ffffULL;      /* data, accessed bit clear */
  gdt_page[5] = 0x00cf73000000ffffULL;      /* not present */
  u32 gate = (u32)gate_target;              /* call gate to FLAT_KERNEL_CS, DPL 3 */
  gdt_page[6] = (gate & 0xffff) | ((u64)KERNEL_CS << 16) | ((u64)(gate & 0xffff0000U) << 32) | (0xecULL << 40);
  gdt_page[7] = 0;
  gdt_page[20] = DATA3;                     /* past `entries`, inside the frame */
  u32 frames[2] = { (u32)(maddr(gdt_page) >> 12), 0 };

  out("desc.set_gdt.writable_mapping", hc2(HC_set_gdt, (u32)frames, 16));
  out("desc.gdt.remap_ro", remap(gdt_page, 0x25));
  out("desc.set_gdt.too_many", hc2(HC_set_gdt, (u32)frames, 7169));
  out("desc.set_gdt.max_bad_ptr", hc2(HC_set_gdt, BAD, 7168));
  out("desc.set_gdt.zero_bad_ptr", hc2(HC_set_gdt, BAD, 0));
  u32 bad_frames[1] = { 0x7ffffff };
  out("desc.set_gdt.foreign_frame", hc2(HC_set_gdt, (u32)bad_frames, 1));
  out("desc.set_gdt", hc2(HC_set_gdt, (u32)frames, 16));
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
  out("desc.update.tss", update_desc(ma, 0x0000890000000067ULL));
  out("desc.update.ldt_desc", update_desc(ma, 0x0000820000000067ULL));
  out("desc.update.misaligned", update_desc(ma + 4, DATA3));
  out("desc.update.writable_page", update_desc(maddr(scratch) + 8, DATA0));
  outx("desc.update.writable_page.value", *(u64 *)(scratch + 8));
  out("desc.update.foreign_frame", update_desc(0x7ffffffULL << 12, DATA3));
  out("desc.update.huge_maddr", update_desc(0xfff0000000000000ULL, DATA3));
  out("desc.update.gate_ring0_cs", update_desc(ma, (gate & 0xffff) | (0xe008ULL << 16) | (0xecULL << 40)));
  out("desc.update.gate_guest_cs", update_desc(ma, (gate & 0xffff) | (0x18ULL << 16) | (0xecULL << 40)));
  outx("desc.update.gate_guest_cs.value", gdt_page[9]);
  out("desc.update.gate_ldt_cs", update_desc(ma, (gate & 0xffff) | (0x1cULL << 16) | (0xecULL << 40)));
  out("desc.update.gate_xen_ds", update_desc(ma, (gate & 0xffff) | (0xe02bULL << 16) | (0xecULL << 40)));
  out("desc.update.gate_reserved_bits", update_desc(ma, (gate & 0xffff) | ((u64)KERNEL_CS << 16) | (0xec01ULL << 32)));
  out("desc.update.gate32", update_desc(ma, (gate & 0xffff) | ((u64)KERNEL_CS << 16) | (0x8cULL << 40)));
  out("desc.update.code64_dpl0", update_desc(ma, 0x00af9b000000ffffULL));
  outx("desc.update.code64_dpl0.value", gdt_page[9]);
  out("desc.update.not_present", update_desc(ma, 0x1234567800001234ULL));
  outx("desc.update.not_present.value", gdt_page[9]);
  out("desc.update.upper_half_zero", update_desc(ma, 0));

  /* LDT: lazily mapped on first use. */
  ldt_page[0] = DATA3;
  ldt_page[1] = DATA0;
  ldt2_page[0] = DATA3;
  out("desc.ldt.remap_ro", remap(ldt_page, 0x25));
  out("desc.set_ldt", set_ldt((u32)ldt_page, 8));
  load_ds("desc.ldt.data3", 0x07);
  load_ds("desc.ldt.data0", 0x0f);
  outx("desc.ldt.entry1_dpl_raised", ldt_page[1]);
  load_ds("desc.ldt.past_ents", 0x47);
  load_ds("desc.ldt.ti_rpl0", 0x04);
  out("desc.ldt.remap_rw_in_use", remap(ldt_page, 0x67));
  out("desc.set_ldt.misaligned", set_ldt((u32)ldt_page + 8, 8));
  out("desc.set_ldt.too_many", set_ldt((u32)ldt_page, 8193));
  out("desc.set_ldt.max", set_ldt((u32)ldt_page, 8192));
  out("desc.set_ldt.writable_page", set_ldt((u32)ldt2_page, 8));
  fault_vec = 0;
  load_ds("desc.ldt.writable_page", 0x07);
  out("desc.ldt.writable_page.cr2_is_base", *(volatile u32 *)(shinfo_window + 8) == (u32)ldt2_page);
  out("desc.ldt.old_page_remap_rw", remap(ldt_page, 0x67));
  out("desc.set_ldt.none", set_ldt(0, 0));
  load_ds("desc.ldt.none", 0x07);
  out("desc.set_ldt.unmapped", set_ldt(BAD, 8));
  load_ds("desc.ldt.unmapped", 0x0f);
  out("desc.ldt.unmapped.cr2_is_base_plus_8", *(volatile u32 *)(shinfo_window + 8) == BAD + 8);
  out("desc.set_ldt.none_again", set_ldt(0, 0));

  /*
   * Compat only: a trap handler on the guest's own ring-1 code segment (GDT entry 10, selector
   * 0x51), reached by a bounce that loads CS from the guest's GDT.
   */
  out("compat.own_cs.update", update_desc(maddr(&gdt_page[10]), 0x00cfbb000000ffffULL));
  struct trap_info own[2] = { { 13, 0, 0x51, (u32)trap_13 }, { 0, 0, 0, 0 } };
  out("compat.own_cs.set_trap_table", hc2(HC_set_trap_table, (u32)own, 0));
  fault_cs = 0;
  load_ds("compat.own_cs.gp", 0xe010);
  outx("compat.own_cs.handler_cs", fault_cs);
  out("compat.own_cs.restore", hc2(HC_set_trap_table, (u32)tt, 0));

  /*
   * Compat only: far transfers through the call gates (Xen emulates them for 32-bit guests,
   * pv_emulate_gate_op): ljmp through entry 6 to gate_target, lcall through entry 11 (DPL 1, to
   * call_target, which returns with lret), ljmp through a gate whose DPL is below the RPL.
   */
  u32 ct = (u32)call_target;
  out("compat.gate.call_gate", update_desc(maddr(&gdt_page[11]), (ct & 0xffff) | ((u64)KERNEL_CS << 16) | ((u64)(ct & 0xffff0000U) << 32) | (0xacULL << 40)));
  u32 esp0, esp1;
  fault_vec = 0; fault_code = 0; gate_hit = 0;
  asm volatile("movl $1f, fault_resume\n\t"
               "ljmp $0x33, $0\n\t"
               "1:" ::: "memory");
  out2("compat.gate.ljmp", (s64)fault_vec, (s64)fault_code);
  out("compat.gate.ljmp.reached", (s64)gate_hit);
  fault_vec = 0; fault_code = 0; gate_hit = 0;
  asm volatile("mov %%esp, %0\n\t"
               "movl $1f, fault_resume\n\t"
               "lcall $0x59, $0\n\t"
               "1:\n\t"
               "mov %%esp, %1" : "=r"(esp0), "=r"(esp1) :: "memory");
  out2("compat.gate.lcall", (s64)fault_vec, (s64)fault_code);
  out("compat.gate.lcall.reached", (s64)gate_hit);
  out("compat.gate.lcall.esp_back", esp0 == esp1);
  fault_vec = 0; fault_code = 0; gate_hit = 0;
  asm volatile("movl $1f, fault_resume\n\t"
               "ljmp $0x5b, $0\n\t"
               "1:" ::: "memory");
  out2("compat.gate.ljmp_rpl3_dpl1", (s64)fault_vec, (s64)fault_code);
  out("compat.gate.ljmp_rpl3_dpl1.reached", (s64)gate_hit);

  /* Dropping the GDT. */
  out("desc.set_gdt.none", hc2(HC_set_gdt, BAD, 0));
  load_ds("desc.gdt.after_none", 0x0b);
  out("desc.gdt.remap_rw_after", remap(gdt_page, 0x67));
  out("desc.set_trap_table.clear", hc2(HC_set_trap_table, 0, 0));
}

/* ---- xen_version, vm_assist, fpu_taskswitch, stack_switch (compat argument widths) ---- */
static void version(void) {
  u32 f[2] = { 0, 0 };
  out("xen_version.get_features.0", hc2(HC_xen_version, 6, (u32)f));
  outx("xen_version.get_features.0.map", f[1]);
  f[0] = 1; f[1] = 0x5a5a;
  out("xen_version.get_features.1", hc2(HC_xen_version, 6, (u32)f));
  outx("xen_version.get_features.1.map", f[1]);
  out("xen_version.get_features.bad_ptr", hc2(HC_xen_version, 6, BAD));
  out("xen_version.pagesize", hc2(HC_xen_version, 7, 0));
  outx("xen_version.version", (u64)(u32)hc2(HC_xen_version, 0, 0));
  u64 pp = 0;  /* the compat struct is one 4-byte xen_ulong_t: the upper half stays 0 */
  out("xen_version.platform_parameters", hc2(HC_xen_version, 5, (u32)&pp));
  outx("xen_version.platform_parameters.virt_start", pp);
}

static void small_families(void) {
  static const u32 types[] = { 0, 1, 2, 3, 4, 5, 6, 31, 32, 33, 63, 64 };
  static const char *const tnames[] = { "0", "1", "2", "3", "4", "5", "6", "31", "32", "33", "63", "64" };
  for (u32 i = 0; i < sizeof types / sizeof types[0]; i++) {
    puts_("vm_assist.enable."); out(tnames[i], hc2(HC_vm_assist, 0, types[i]));
  }
  for (u32 i = 0; i < sizeof types / sizeof types[0]; i++) {
    puts_("vm_assist.disable."); out(tnames[i], hc2(HC_vm_assist, 1, types[i]));
  }
  out("vm_assist.cmd2", hc2(HC_vm_assist, 2, 0));
  out("fpu_taskswitch.set", hc2(HC_fpu_taskswitch, 1, 0));
  out("fpu_taskswitch.clear", hc2(HC_fpu_taskswitch, 0, 0));
  out("fpu_taskswitch.other", hc2(HC_fpu_taskswitch, 7, 0));
  u32 sp;
  asm volatile("mov %%esp, %0" : "=r"(sp));
  out("stack_switch.kernel_ss", hc2(HC_stack_switch, 0xe02b, sp));
  out("stack_switch.null_ss", hc2(HC_stack_switch, 0, sp));
  out("stack_switch.ring0_ss", hc2(HC_stack_switch, 0xe010, sp));
  out("compat.stack_switch.restore", hc2(HC_stack_switch, 0xe021, sp));
}

/* ---- multicall with 32-byte compat entries { u32 op, result, args[6] } ---- */
#define HC_multicall 13
struct mc_entry32 { u32 op, result, args[6]; };
static struct mc_entry32 mc[7];
static char mc_text[] = "multicall console line\n";

static void multicall(void) {
  u32 feat[2] = { 0, 0 };
  memset_(mc, 0, sizeof mc);
  mc[0].op = HC_xen_version; mc[0].args[0] = 0;
  mc[1].op = HC_console_io; mc[1].args[0] = 0; mc[1].args[1] = 0; mc[1].args[2] = (u32)mc_text;
  mc[2].op = 99;
  mc[3].op = HC_xen_version; mc[3].args[0] = 6; mc[3].args[1] = BAD;
  mc[4].op = HC_vm_assist; mc[4].args[0] = 0; mc[4].args[1] = 99;
  mc[5].op = HC_multicall; mc[5].args[0] = (u32)mc; mc[5].args[1] = 1;
  mc[6].op = HC_xen_version; mc[6].args[0] = 6; mc[6].args[1] = (u32)feat;
  for (int i = 0; i < 7; i++) mc[i].result = 0x5a5a;
  out("multicall", hc2(HC_multicall, (u32)mc, 7));
  const char *names[7] = { "multicall.0.xen_version", "multicall.1.console_io", "multicall.2.nr99",
                           "multicall.3.bad_ptr", "multicall.4.vm_assist_bad", "multicall.5.nested",
                           "multicall.6.get_features" };
  for (int i = 0; i < 7; i++) out(names[i], (s64)(int)mc[i].result);
  outx("multicall.6.features", feat[1]);
  out("multicall.count0", hc2(HC_multicall, (u32)mc, 0));
  out("multicall.bad_ptr", hc2(HC_multicall, BAD, 2));
}

/* ---- physdev_op and SCHEDOP_poll through the compat structs ---- */

static void physdev(void) {
  /* Every PHYSDEVOP_* number from 5 to 31 and one unknown, with a zeroed argument. */
  static const u32 cmds[] = { 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 99 };
  for (u32 i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    memset_(scratch, 0, 256);
    char num[3] = { (char)('0' + cmds[i] / 10), (char)('0' + cmds[i] % 10), 0 };
    puts_("physdev.op"); out(num, hc2(HC_physdev_op, cmds[i], (u32)scratch));
  }
  *(u32 *)scratch = 3;
  out("physdev.set_iopl.3", hc2(HC_physdev_op, 6, (u32)scratch));
  *(u32 *)scratch = 0;
  out("physdev.set_iopl.0", hc2(HC_physdev_op, 6, (u32)scratch));
  out("physdev.set_iopl.bad_ptr", hc2(HC_physdev_op, 6, BAD));
  out("physdev.eoi.bad_ptr", hc2(HC_physdev_op, 12, BAD));
  out("physdev.irq_status_query.bad_ptr", hc2(HC_physdev_op, 5, BAD));
  *(u32 *)scratch = 0x7fffffff;
  out("physdev.irq_status_query.big", hc2(HC_physdev_op, 5, (u32)scratch));
  *(u32 *)scratch = 1;
  out("physdev.eoi.irq1", hc2(HC_physdev_op, 12, (u32)scratch));
}

static int evtchn(int cmd, void *arg) { return hc2(HC_event_channel_op, cmd, (u32)arg); }
struct bind_ipi { u32 vcpu, port; };
/* The compat struct sched_poll: a 4-byte handle, then nr_ports and the 8-byte timeout. */
struct sched_poll32 { u32 ports; u32 nr_ports; u64 timeout; } __attribute__((packed));

static int poll(u32 *ports, u32 n, u64 timeout) {
  struct sched_poll32 p = { (u32)ports, n, timeout };
  return hc2(HC_sched_op, 3, (u32)&p);
}

static void sched_poll(void) {
  volatile u32 *pend = (volatile u32 *)(shinfo_window + 2048);  /* 32-bit evtchn_pending[] */
  volatile u32 *mask = (volatile u32 *)(shinfo_window + 2176);  /* and evtchn_mask[] */
  struct bind_ipi ipi = { 0, 0 };
  out("poll.bind_ipi", evtchn(7, &ipi));
  u32 port = ipi.port;
  mask[port / 32] |= 1U << (port % 32);
  u32 ports[2] = { port, port };
  u32 sendp = port;
  out("poll.send", evtchn(4, &sendp));
  out("poll.pending", poll(ports, 1, 0));
  out("poll.pending.bit", (pend[port / 32] >> (port % 32)) & 1);
  pend[port / 32] &= ~(1U << (port % 32));
  out("poll.timeout_past", poll(ports, 2, 1));
  u32 bad[1] = { 5000 };
  out("poll.bad_port", poll(bad, 1, 1));
  bad[0] = 0;
  out("poll.port0", poll(bad, 1, 1));
  out("poll.nr129", poll(ports, 129, 1));
  out("poll.nr0_timeout", poll(ports, 0, 1));
  out("poll.bad_ports_ptr", poll((u32 *)BAD, 1, 1));
  out("poll.bad_ptr", hc2(HC_sched_op, 3, BAD));
}

/* ---- memory_op: guest.c's balloon round trip, compat layout ---- */
/* compat xen_memory_reservation: 4-byte extent_start handle and nr_extents, 4-byte extents. */
struct reservation { u32 extent_start, nr_extents, extent_order, mem_flags; u16 domid; };

static int memop(int cmd, void *arg) { return hc2(HC_memory_op, (u32)cmd, (u32)arg); }
static int reserve(int cmd, u32 *list, u32 n, u32 order, u16 dom) {
  struct reservation r;
  memset_(&r, 0, sizeof r);
  r.extent_start = (u32)list; r.nr_extents = n; r.extent_order = order; r.domid = dom;
  return memop(cmd, &r);
}
static int cur_res(u16 dom) { u16 d = dom; return memop(3, &d); }

static void balloon(const u8 *si) {
  u32 nr_pages = *(const u32 *)(si + 32);
  /* The compat M2P, read-only at HYPERVISOR_COMPAT_VIRT_START, 4-byte entries. */
  const volatile u32 *m2p = (const volatile u32 *)0xf5800000U;
  s64 cur0 = cur_res(SELF);
  /* Balloon round trip on the last page (outside the boot mappings). */
  u32 pfn = nr_pages - 1;
  u32 old_mfn = p2m[pfn];
  u32 list[4];
  list[0] = old_mfn;
  out("mem.decrease", reserve(1, list, 1, 0, SELF));
  out("mem.decrease.cur_delta", cur_res(SELF) - cur0);
  list[0] = old_mfn;
  out("mem.decrease.again", reserve(1, list, 1, 0, SELF));
  list[0] = pfn;
  out("mem.populate", reserve(6, list, 1, 0, SELF));
  out("mem.populate.m2p_is_pfn", m2p[list[0]] == pfn);
  out("mem.populate.cur_delta", cur_res(SELF) - cur0);
  list[0] = 0;
  out("mem.increase", reserve(0, list, 1, 0, SELF));
  out("mem.increase.mfn_nonzero", list[0] != 0);
  out("mem.increase.cur_delta", cur_res(SELF) - cur0);
  out("mem.decrease.increased", reserve(1, list, 1, 0, SELF));
  out("mem.decrease.increased.cur_delta", cur_res(SELF) - cur0);
}

void guest_main(u8 *si) {
  p2m = *(const u32 **)(si + 68);
  puts_("\nTYPEVISOR-ABI-REF-32 begin\n");
  flush();
  u32 shared = *(u32 *)(si + 36);
  remap(shinfo_window, 0x67);  /* a writable page of ours first, then shared_info over it */
  hc5(HC_update_va_mapping, (u32)shinfo_window, shared | 0x67, 0, 2, 0);
  version();
  multicall();
  small_families();
  balloon(si);
  physdev();
  sched_poll();
  descriptors();
  puts_("TYPEVISOR-ABI-REF-32 end\n");
  flush();
  u32 reason = 0;
  hc2(HC_sched_op, 2, (u32)&reason);
  for (;;) hc2(HC_sched_op, 0, 0);
}
