/*
 * Hypercall reference guest (64-bit PV, freestanding). Runs a fixed list of event_channel_op and
 * grant_table_op calls, mostly hostile ones, and prints "name value" lines on the PV console.
 * test/xen-reference.test.ts runs the same list against Typevisor and compares with the golden
 * output recorded under the real Xen 4.17 (golden-x86_64.txt). Rebuild with ./build.sh.
 */
typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef long s64;

extern char hypercall_page[];

static s64 hc3(int nr, u64 a1, u64 a2, u64 a3) {
  s64 ret;
  register u64 r1 asm("rdi") = a1;
  register u64 r2 asm("rsi") = a2;
  register u64 r3 asm("rdx") = a3;
  asm volatile("call *%[fn]"
               : "=a"(ret), "+r"(r1), "+r"(r2), "+r"(r3)
               : [fn] "r"(hypercall_page + nr * 32)
               : "memory", "rcx", "r11", "r10", "r8");
  return ret;
}

#define HC_update_va_mapping 14
#define HC_grant_table_op 20
#define HC_sched_op 29
#define HC_event_channel_op 32

static volatile u8 *cons;
static u32 cons_port;

static void yield(void) { hc3(HC_sched_op, 0, 0, 0); }

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
  hc3(HC_event_channel_op, 4, (u64)&port, 0);
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

static void *memset_(void *p, int c, u64 n) { u8 *d = p; while (n--) *d++ = (u8)c; return p; }

/* ---- event channels ---- */
static s64 evtchn(int cmd, void *arg) { return hc3(HC_event_channel_op, (u64)cmd, (u64)arg, 0); }

struct alloc_unbound { u16 dom, remote_dom; u32 port; };
struct bind_interdomain { u16 remote_dom; u16 pad; u32 remote_port, local_port; };
struct bind_virq { u32 virq, vcpu, port; };
struct bind_ipi { u32 vcpu, port; };
struct bind_vcpu { u32 port, vcpu; };
struct status { u16 dom; u16 pad; u32 port, status, vcpu; u16 u_dom; u16 pad2; u32 u_port; };
struct bind_pirq { u32 pirq, flags, port; };

#define SELF 0x7ff0

static s64 alloc_unbound(const char *name, u16 dom, u16 remote, u32 *port) {
  struct alloc_unbound a = { dom, remote, 0 };
  s64 rc = evtchn(6, &a);
  out(name, rc);
  if (port) *port = a.port;
  return rc;
}

static void port_op(const char *name, int cmd, u32 port) {
  u32 p = port;
  out(name, evtchn(cmd, &p));
}

static void status(const char *name, u16 dom, u32 port) {
  struct status s;
  memset_(&s, 0, sizeof s);
  s.dom = dom;
  s.port = port;
  s64 rc = evtchn(5, &s);
  out(name, rc);
  if (rc == 0) {
    puts_(name); out(".status", s.status);
    puts_(name); out(".vcpu", s.vcpu);
    puts_(name); out(".u16", s.u_dom);
    puts_(name); out(".u32", s.u_port);
  }
}

/* ---- grant tables ---- */
static s64 gnttab(u64 cmd, void *uop, u64 count) { return hc3(HC_grant_table_op, cmd, (u64)uop, count); }

struct setup_table { u16 dom; u16 pad; u32 nr_frames; short status; u16 pad2; u32 pad3; u64 *frame_list; };
struct query_size { u16 dom; u16 pad; u32 nr_frames, max_nr_frames; short status; u16 pad2; };
struct map_ref { u64 host_addr; u32 flags, ref; u16 dom; short status; u32 handle; u64 dev_bus_addr; };
struct unmap_ref { u64 host_addr, dev_bus_addr; u32 handle; short status; u16 pad; };
struct copy_ptr { u64 u; u16 domid, offset; u32 pad; };
struct copy { struct copy_ptr source, dest; u16 len, flags; short status; u16 pad; };
struct grant { u16 flags, domid; u32 frame; };

static u8 page_a[4096] __attribute__((aligned(4096)));
static u8 page_b[4096] __attribute__((aligned(4096)));
static u8 gnt_window[4096] __attribute__((aligned(4096)));
static u8 shinfo_window[4096] __attribute__((aligned(4096)));

static s64 copy1(const char *name, u64 su, u16 sd, u16 so, u64 du, u16 dd, u16 dof, u16 len, u16 flags) {
  struct copy c;
  memset_(&c, 0, sizeof c);
  c.source.u = su; c.source.domid = sd; c.source.offset = so;
  c.dest.u = du; c.dest.domid = dd; c.dest.offset = dof;
  c.len = len; c.flags = flags; c.status = 99;
  s64 rc = gnttab(5, &c, 1);
  out(name, rc);
  puts_(name); out(".status", c.status);
  return c.status;
}

static void map1(const char *name, u32 flags, u32 ref, u16 dom) {
  struct map_ref m;
  memset_(&m, 0, sizeof m);
  m.flags = flags; m.ref = ref; m.dom = dom; m.status = 99;
  out(name, gnttab(0, &m, 1));
  puts_(name); out(".status", m.status);
}

void guest_main(u8 *si) {
  const u64 *m2p = (const u64 *)0xFFFF800000000000UL;
  u64 cons_mfn = *(u64 *)(si + 72);
  cons_port = *(u32 *)(si + 80);
  cons = (volatile u8 *)(m2p[cons_mfn] << 12);
  const u64 *p2m = *(const u64 **)(si + 104);
  puts_("\nTYPEVISOR-HYPERCALL-REF begin\n");
  flush();
  out("store_evtchn", *(u32 *)(si + 64));
  out("console_evtchn", cons_port);

  /* Our domid: the remote of an unbound port allocated with remote_dom = DOMID_SELF. */
  u32 p_self;
  alloc_unbound("self_unbound", SELF, SELF, &p_self);
  out("self_unbound.port", p_self);
  struct status st;
  memset_(&st, 0, sizeof st);
  st.dom = SELF; st.port = p_self;
  evtchn(5, &st);
  u16 me = st.u_dom;
  out("domid", me);

  u32 p1, p2, pt, pl;
  alloc_unbound("alloc_for_dom0", SELF, 0, &p1);
  out("alloc_for_dom0.port", p1);
  alloc_unbound("alloc_in_dom0", 0, SELF, 0);
  alloc_unbound("alloc_in_domid_xen", 0x7ff2, 0, 0);
  alloc_unbound("alloc_in_dom_300", 300, 0, 0);

  struct bind_ipi ipi = { 0, 0 };
  out("bind_ipi_v0", evtchn(7, &ipi)); p2 = ipi.port; out("bind_ipi_v0.port", p2);
  ipi.vcpu = 1; out("bind_ipi_v1", evtchn(7, &ipi));
  ipi.vcpu = 0xffffffff; out("bind_ipi_vmax", evtchn(7, &ipi));

  port_op("send_ipi", 4, p2);
  port_op("send_unbound", 4, p1);
  port_op("send_port0", 4, 0);
  port_op("send_port5000", 4, 5000);
  port_op("send_free", 4, 40);

  struct bind_virq bv = { 0, 0, 0 };
  out("bind_virq_timer", evtchn(1, &bv)); pt = bv.port; out("bind_virq_timer.port", pt);
  bv.virq = 0; bv.vcpu = 0; out("bind_virq_timer_again", evtchn(1, &bv));
  bv.virq = 2; bv.vcpu = 1; out("bind_virq_console_v1", evtchn(1, &bv));
  bv.virq = 0; bv.vcpu = 1; out("bind_virq_timer_v1", evtchn(1, &bv));
  bv.virq = 24; bv.vcpu = 0; out("bind_virq_24", evtchn(1, &bv));
  bv.virq = 1; bv.vcpu = 0; out("bind_virq_debug", evtchn(1, &bv)); out("bind_virq_debug.port", bv.port);
  port_op("send_virq", 4, pt);

  struct bind_vcpu bvc = { p2, 0 };
  out("bind_vcpu_ipi", evtchn(8, &bvc));
  bvc.port = p1; bvc.vcpu = 0; out("bind_vcpu_unbound", evtchn(8, &bvc));
  bvc.port = p1; bvc.vcpu = 1; out("bind_vcpu_unbound_v1", evtchn(8, &bvc));
  bvc.port = pt; bvc.vcpu = 0; out("bind_vcpu_timer", evtchn(8, &bvc));
  bvc.port = 5000; bvc.vcpu = 0; out("bind_vcpu_5000", evtchn(8, &bvc));

  status("status_unbound", SELF, p1);
  status("status_ipi", SELF, p2);
  status("status_virq", SELF, pt);
  status("status_port0", SELF, 0);
  status("status_free", SELF, 40);
  status("status_5000", SELF, 5000);
  status("status_dom0", 0, 1);
  status("status_dom300", 300, 1);
  status("status_console", SELF, cons_port);

  port_op("close_port0", 3, 0);
  port_op("close_ipi", 3, p2);
  port_op("close_ipi_again", 3, p2);
  port_op("close_5000", 3, 5000);
  port_op("unmask_5000", 9, 5000);
  port_op("unmask_unbound", 9, p1);

  struct bind_interdomain bi;
  memset_(&bi, 0, sizeof bi);
  bi.remote_dom = 0; bi.remote_port = 0x7fffffff; out("bind_inter_dom0_bad_port", evtchn(0, &bi));
  bi.remote_dom = SELF; bi.remote_port = p1; out("bind_inter_self_for_dom0", evtchn(0, &bi));
  bi.remote_dom = 300; bi.remote_port = 1; out("bind_inter_dom300", evtchn(0, &bi));
  bi.remote_dom = SELF; bi.remote_port = p_self; out("bind_inter_loopback", evtchn(0, &bi));
  pl = bi.local_port; out("bind_inter_loopback.port", pl);
  status("status_loop_local", SELF, pl);
  status("status_loop_remote", SELF, p_self);
  port_op("close_loop_local", 3, pl);
  status("status_loop_remote_after", SELF, p_self);

  struct bind_pirq bp = { 1, 0, 0 };
  out("bind_pirq_1", evtchn(2, &bp));
  u16 rdom = 0;
  out("reset_dom0", evtchn(10, &rdom));
  out("evtchn_cmd_99", evtchn(99, &bv));

  /* ---- grant tables ---- */
  u32 ver = 1;
  out("set_version_1", gnttab(8, &ver, 1)); out("set_version_1.version", ver);
  ver = 3; out("set_version_3", gnttab(8, &ver, 1)); out("set_version_3.version", ver);
  struct { u16 dom, pad; u32 version; } gv = { SELF, 0, 0 };
  out("get_version", gnttab(10, &gv, 1)); out("get_version.version", gv.version);
  gv.dom = 0; gv.version = 77; out("get_version_dom0", gnttab(10, &gv, 1));
  gv.dom = 300; out("get_version_dom300", gnttab(10, &gv, 1));

  struct query_size qs;
  memset_(&qs, 0, sizeof qs); qs.dom = SELF;
  out("query_size", gnttab(6, &qs, 1)); out("query_size.status", qs.status);
  out("query_size.nr_frames", qs.nr_frames); out("query_size.max_nr_frames", qs.max_nr_frames);
  memset_(&qs, 0, sizeof qs); qs.dom = 0;
  out("query_size_dom0", gnttab(6, &qs, 1)); out("query_size_dom0.status", qs.status);
  memset_(&qs, 0, sizeof qs); qs.dom = 300;
  out("query_size_dom300", gnttab(6, &qs, 1)); out("query_size_dom300.status", qs.status);

  u64 frames[4] = { 0, 0, 0, 0 };
  struct setup_table su;
  memset_(&su, 0, sizeof su); su.dom = SELF; su.nr_frames = 1; su.frame_list = frames; su.status = 99;
  out("setup_table", gnttab(2, &su, 1)); out("setup_table.status", su.status);
  memset_(&su, 0, sizeof su); su.dom = 0; su.nr_frames = 1; su.frame_list = frames; su.status = 99;
  out("setup_table_dom0", gnttab(2, &su, 1)); out("setup_table_dom0.status", su.status);
  memset_(&su, 0, sizeof su); su.dom = 300; su.nr_frames = 1; su.frame_list = frames; su.status = 99;
  out("setup_table_dom300", gnttab(2, &su, 1)); out("setup_table_dom300.status", su.status);
  memset_(&su, 0, sizeof su); su.dom = SELF; su.nr_frames = 100000; su.frame_list = frames; su.status = 99;
  out("setup_table_huge", gnttab(2, &su, 1)); out("setup_table_huge.status", su.status);
  out("setup_table_count2", gnttab(2, &su, 2));

  /* Map our grant frame and write grant entries. */
  u64 pte = (frames[0] << 12) | 0x67;
  out("map_grant_frame", hc3(HC_update_va_mapping, (u64)gnt_window, pte, 2));
  volatile struct grant *g = (volatile struct grant *)gnt_window;
  u64 mfn_a = p2m[(u64)page_a >> 12], mfn_b = p2m[(u64)page_b >> 12];
  for (int i = 0; i < 16; i++) { page_a[i] = (u8)(0x40 + i); page_b[i] = 0; }
  g[8].domid = me; g[8].frame = (u32)mfn_a; asm volatile("" ::: "memory"); g[8].flags = 1;
  g[9].domid = me; g[9].frame = (u32)mfn_b; asm volatile("" ::: "memory"); g[9].flags = 1 | 4;
  g[10].domid = 0; g[10].frame = (u32)mfn_a; asm volatile("" ::: "memory"); g[10].flags = 1;
  g[11].domid = me; g[11].frame = 0x0fffffff; asm volatile("" ::: "memory"); g[11].flags = 1;
  g[12].domid = me; g[12].frame = (u32)mfn_a; asm volatile("" ::: "memory"); g[12].flags = 2;

  copy1("copy_gmfn_self", mfn_a, SELF, 0, mfn_b, SELF, 0, 16, 0);
  out("copy_gmfn_self.data_ok", page_b[15] == 0x4f);
  copy1("copy_gref_src", 8, SELF, 2, mfn_b, SELF, 100, 8, 1);
  out("copy_gref_src.data_ok", page_b[100] == 0x42 && page_b[107] == 0x49);
  out("copy_gref_src.flags_after", g[8].flags);
  copy1("copy_gref_src_by_domid", 8, me, 0, mfn_b, SELF, 0, 1, 1);
  copy1("copy_gref_ro_dest", mfn_a, SELF, 0, 9, SELF, 0, 4, 2);
  out("copy_gref_ro_dest.flags_after", g[9].flags);
  copy1("copy_gref_ro_src", 9, SELF, 0, mfn_a, SELF, 2048, 4, 1);
  copy1("copy_gref_other_grantee", 10, SELF, 0, mfn_b, SELF, 0, 4, 1);
  copy1("copy_gref_bad_frame", 11, SELF, 0, mfn_b, SELF, 0, 4, 1);
  out("copy_gref_bad_frame.flags_after", g[11].flags);
  copy1("copy_gref_transfer_type", 12, SELF, 0, mfn_b, SELF, 0, 4, 1);
  copy1("copy_gref_both", 8, SELF, 0, 8, SELF, 64, 4, 3);
  copy1("copy_gref_bad_ref", 100000, SELF, 0, mfn_b, SELF, 0, 4, 1);
  copy1("copy_cross_page_src", mfn_a, SELF, 4090, mfn_b, SELF, 0, 16, 0);
  copy1("copy_cross_page_dst", mfn_a, SELF, 0, mfn_b, SELF, 4095, 2, 0);
  copy1("copy_len_4096", mfn_a, SELF, 0, mfn_b, SELF, 0, 4096, 0);
  copy1("copy_gmfn_dom0", mfn_a, 0, 0, mfn_b, SELF, 0, 4, 0);
  copy1("copy_gmfn_dest_dom0", mfn_a, SELF, 0, mfn_b, 0, 0, 4, 0);
  copy1("copy_gmfn_bad", 0x0fffffff, SELF, 0, mfn_b, SELF, 0, 4, 0);
  copy1("copy_gref_dom300", 8, 300, 0, mfn_b, SELF, 0, 4, 1);
  copy1("copy_gref_dom0_ref8", 8, 0, 0, mfn_b, SELF, 0, 4, 1);

  map1("map_flags0", 0, 8, me);
  map1("map_dom300", 2, 8, 300);
  map1("map_dom0_bad_ref", 2, 0x7fffffff, 0);
  map1("map_self_domid_self", 2, 8, SELF);
  struct unmap_ref um;
  memset_(&um, 0, sizeof um); um.handle = 12345; um.status = 99;
  out("unmap_bad_handle", gnttab(1, &um, 1)); out("unmap_bad_handle.status", um.status);
  memset_(&um, 0, sizeof um); um.handle = 0xffffffff; um.status = 99;
  out("unmap_handle_max", gnttab(1, &um, 1)); out("unmap_handle_max.status", um.status);

  struct { u32 a, b; short status; u16 pad; } sw[2] = { { 8, 9, 99, 0 }, { 8, 100000, 99, 0 } };
  out("swap_two", gnttab(11, sw, 2)); out("swap_two.status0", sw[0].status); out("swap_two.status1", sw[1].status);
  out("swap_two.flags8", g[8].flags); out("swap_two.flags9", g[9].flags);
  sw[0].a = 9; sw[0].b = 9; sw[0].status = 99;
  out("swap_same", gnttab(11, sw, 1)); out("swap_same.status", sw[0].status);
  sw[0].a = 8; sw[0].b = 9; out("swap_back", gnttab(11, sw, 1)); out("swap_back.status", sw[0].status);
  struct { u16 dom; short status; } dt = { SELF, 99 };
  out("dump_table", gnttab(3, &dt, 1)); out("dump_table.status", dt.status);
  struct { u32 nr_frames; u16 dom; short status; u64 list; } gsf = { 1, SELF, 99, (u64)frames };
  out("get_status_frames", gnttab(9, &gsf, 1)); out("get_status_frames.status", gsf.status);
  out("unmap_and_replace_count0", gnttab(7, &um, 0));
  out("cache_flush_count0", gnttab(12, &um, 0));
  out("gnttab_count_neg", gnttab(0, &um, (u64)-1));
  out("gnttab_count_2g", gnttab(0, &um, 0x80000000UL));
  out("gnttab_count0", gnttab(0, &um, 0));
  out("gnttab_continuation_bits", gnttab(0 | (1 << 12), &um, 1));
  out("gnttab_cmd_99", gnttab(99, &um, 1));
  out("gnttab_transfer", gnttab(4, &um, 0));
  out("gnttab_bad_ptr", gnttab(6, (void *)0x10, 1));
  out("evtchn_bad_ptr", evtchn(7, (void *)0x10));

  /* ---- 2-level delivery as seen in shared_info ---- */
  out("map_shared_info", hc3(HC_update_va_mapping, (u64)shinfo_window, *(u64 *)(si + 40) | 0x67, 2));
  volatile u8 *sh = shinfo_window;
  volatile u64 *pend = (volatile u64 *)(sh + 2048), *mask = (volatile u64 *)(sh + 2560);
  volatile u64 *sel = (volatile u64 *)(sh + 8);
  out("upcall_mask_at_boot", sh[1]);
  mask[0] = ~0UL; /* keep console, xenstore and timer traffic out of the selector */
  *sel = 0; sh[0] = 0;
  u32 pb = 0;
  while (pb < 64) { struct bind_ipi b = { 0, 0 }; if (evtchn(7, &b)) break; pb = b.port; }
  out("deliver.port", pb);
  u32 w = pb / 64; u64 bit = 1UL << (pb % 64);
  pend[w] &= ~bit;
  port_op("deliver.send", 4, pb);
  out("deliver.pending", (pend[w] & bit) != 0); out("deliver.sel", (*sel >> w) & 1); out("deliver.upcall", sh[0]);
  port_op("deliver.send_again", 4, pb);
  out("deliver.upcall_again", sh[0]);
  pend[w] &= ~bit; *sel = 0; sh[0] = 0;
  mask[w] |= bit;
  port_op("masked.send", 4, pb);
  out("masked.pending", (pend[w] & bit) != 0); out("masked.sel", (*sel >> w) & 1); out("masked.upcall", sh[0]);
  port_op("masked.unmask", 9, pb);
  out("masked.mask_after", (mask[w] & bit) != 0); out("masked.sel_after", (*sel >> w) & 1); out("masked.upcall_after", sh[0]);
  *sel = 0; sh[0] = 0;
  mask[w] |= bit;
  port_op("masked.unmask_still_pending", 9, pb);
  out("masked.upcall_redelivered", sh[0]);
  port_op("close.pending_port", 3, pb);
  out("close.pending_after", (pend[w] & bit) != 0);
  out("close.mask_after", (mask[w] & bit) != 0);
  mask[w] &= ~bit;
  *sel = 0; sh[0] = 0;
  u32 q;
  alloc_unbound("loop2.alloc", SELF, SELF, &q);
  out("loop2.alloc.port", q);
  memset_(&bi, 0, sizeof bi);
  bi.remote_dom = SELF; bi.remote_port = q; out("loop2.bind", evtchn(0, &bi));
  u32 l = bi.local_port; out("loop2.bind.port", l);
  out("loop2.local_pending", (pend[l / 64] >> (l % 64)) & 1);
  out("loop2.remote_pending", (pend[q / 64] >> (q % 64)) & 1);
  out("loop2.upcall", sh[0]);
  pend[l / 64] &= ~(1UL << (l % 64)); *sel = 0; sh[0] = 0;
  port_op("loop2.send_local", 4, l);
  out("loop2.remote_pending_after", (pend[q / 64] >> (q % 64)) & 1);
  out("loop2.local_pending_after", (pend[l / 64] >> (l % 64)) & 1);
  out("loop2.sel_after", *sel);

  puts_("TYPEVISOR-HYPERCALL-REF end\n");
  flush();
  u32 reason = 0;
  hc3(HC_sched_op, 2, (u64)&reason, 0);
  for (;;) yield();
}
