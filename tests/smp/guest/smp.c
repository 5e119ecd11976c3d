/*
 * SMP guest (64-bit PV, freestanding). vCPU 0 finds how many vCPUs the domain has (VCPUOP_is_up
 * answers -ENOENT past the last), tries hostile VCPUOP_initialise/up arguments, brings vCPUs
 * 1..N-1 up with VCPUOP_initialise + VCPUOP_up, and gives each a VIRQ_TIMER port and an IPI
 * port (EVTCHNOP_bind_virq / bind_ipi for that vCPU). Then: IPI ping-pong between vCPU 0 and
 * every other vCPU (each pong is an IPI back), a phase where every vCPU spins (CPU-bound, for
 * work conservation) counting its own timer ticks, VCPUOP_down / is_up /
 * get_runstate_info / up of each other vCPU, and a last ping to show it runs again. Only vCPU 0
 * prints ("name value" lines on the PV console); host-dependent values (tick and spin counts)
 * are printed as comparisons. Built on ../../guests/lib (head.S with the C upcall, console,
 * xenstore ring); ap.S is its secondary vCPUs' entry. Rebuild with ./build.sh.
 */
#include "xen.h"

extern char ap_start[];

#define VCPUOP_initialise 0
#define VCPUOP_up 1
#define VCPUOP_down 2
#define VCPUOP_is_up 3
#define VCPUOP_get_runstate_info 4

#define MAX_CPUS 8
#define ROUNDS 4
#define BAD 0x00007ff000000000UL

static void out(const char *name, s64 v) {
  printk("%s %d\n", name, v);
  flush_sync();
}

/* "cpu.<k>.<what> <v>" */
static void outk(u32 k, const char *what, s64 v) {
  printk("cpu.%u.%s %d\n", (u64)k, what, v);
  flush_sync();
}

struct percpu {
  u64 id;                 /* %gs:0 */
  volatile u64 ticks;     /* VIRQ_TIMER events handled on this vCPU */
  volatile u64 ipis;      /* IPI events handled on this vCPU */
  volatile u64 spins;     /* loop iterations in the spin phase */
  volatile u64 online;    /* set by the vCPU itself once it runs */
  u32 timer_port;
  u32 ipi_port;
} __attribute__((aligned(64)));

static struct percpu pcpu[MAX_CPUS];
static u8 ap_stacks[MAX_CPUS][8192] __attribute__((aligned(16)));
static u8 ctxbuf[5168] __attribute__((aligned(16)));
static u8 scratch[4096] __attribute__((aligned(4096)));
static volatile u8 *const shinfo = shinfo_window;
static u32 ncpus;
static volatile u32 spin_phase;
static volatile u32 port_cpu[4096];

static u32 this_cpu(void) {
  u64 v;
  asm volatile("mov %%gs:0, %0" : "=r"(v));
  return (u32)v;
}

static s64 evtchn(int cmd, void *arg) { return hc2(HC_event_channel_op, (u64)cmd, (u64)arg); }
static s64 vcpu_op(int cmd, u64 vcpu, u64 arg) { return hc3(HC_vcpu_op, (u64)cmd, vcpu, arg); }

static void mask_cpu_events(u32 cpu) { shinfo[cpu * 64 + 1] = 1; asm volatile("" ::: "memory"); }

/* Unmasks events; a pending upcall is forced with a hypercall, as Linux's xen_irq_enable. */
static void unmask_cpu_events(u32 cpu) {
  shinfo[cpu * 64 + 1] = 0;
  asm volatile("" ::: "memory");
  if (shinfo[cpu * 64]) hc2(HC_xen_version, 0, 0);
}

/* The event upcall (from hypervisor_callback in head.S). */
void do_upcall(void) {
  u32 cpu = this_cpu();
  volatile u8 *vi = shinfo + cpu * 64;
  volatile u64 *pend = (volatile u64 *)(shinfo + 2048);
  volatile u64 *mask = (volatile u64 *)(shinfo + 2560);
  vi[0] = 0;
  u64 sel = __atomic_exchange_n((u64 *)(vi + 8), 0UL, __ATOMIC_SEQ_CST);
  while (sel) {
    int w = __builtin_ctzl(sel);
    sel &= sel - 1;
    u64 bits = pend[w] & ~mask[w];
    while (bits) {
      int b = __builtin_ctzl(bits);
      bits &= bits - 1;
      u32 port = (u32)(w * 64 + b);
      if (port_cpu[port] != cpu + 1) continue; /* another vCPU's port: leave it pending */
      __atomic_fetch_and((u64 *)&pend[w], ~(1UL << b), __ATOMIC_SEQ_CST);
      struct percpu *me = &pcpu[cpu];
      if (port == me->timer_port) me->ticks++;
      else if (port == me->ipi_port) {
        me->ipis++;
        if (cpu != 0) send(pcpu[0].ipi_port); /* pong */
      }
    }
  }
}

/* Secondary vCPUs start here (ap_start in ap.S): mark online, then idle on events. */
void ap_main(u64 k) {
  struct percpu *me = &pcpu[k];
  me->online = 1;
  unmask_cpu_events((u32)k);
  for (;;) {
    if (spin_phase) {
      while (spin_phase) me->spins++;
      continue;
    }
    mask_cpu_events((u32)k);
    if (spin_phase) { unmask_cpu_events((u32)k); continue; }
    block();
  }
}

static u64 l4_mfn;

/*
 * Hotplug mode (command line "hotplug"): watches cpu/ and, like Linux's xen cpu_hotplug
 * driver, takes vCPU k down when cpu/k/availability says "offline" and up again on "online".
 */
static void hotplug_loop(void) {
  if (xs_request(XS_WATCH, "cpu", "cpu", 1) == XS_ERROR) {
    puts_("hotplug: watch failed\n");
    flush_sync();
    return;
  }
  char path[32] = "cpu/N/availability";
  for (;;) {
    if (!xs_watch_fired) { xs_read_msg(); continue; }
    xs_watch_fired = 0;
    u32 online = 1;
    for (u32 k = 1; k < ncpus; k++) {
      path[4] = (char)('0' + k);
      if (xs_request(XS_READ, path, 0, 0) != XS_READ) continue;
      int want = xs_reply_len == 6 && xs_reply[0] == 'o' && xs_reply[1] == 'n';
      int up = vcpu_op(VCPUOP_is_up, k, 0) == 1;
      if (want && !up) outk(k, "hotplug.up", vcpu_op(VCPUOP_up, k, 0));
      if (!want && up) outk(k, "hotplug.down", vcpu_op(VCPUOP_down, k, 0));
      online += vcpu_op(VCPUOP_is_up, k, 0) == 1;
    }
    out("hotplug.online", online);
  }
}

static void fill_ctx(u8 *c, u32 k) {
  memset_(c, 0, sizeof ctxbuf);
  *(u64 *)(c + 512) = 4;                           /* flags: VGCF_in_kernel */
  u8 *ur = c + 520;                                /* user_regs */
  u64 top = (u64)&ap_stacks[k][8192];
  *(u64 *)(ur + 112) = k;                          /* rdi: the vCPU number */
  *(u64 *)(ur + 128) = (u64)ap_start;              /* rip */
  *(u16 *)(ur + 136) = 0xe033;                     /* cs: FLAT_KERNEL_CS */
  *(u64 *)(ur + 144) = 0x202;                      /* rflags */
  *(u64 *)(ur + 152) = top;                        /* rsp */
  *(u16 *)(ur + 160) = 0xe02b;                     /* ss: FLAT_KERNEL_SS */
  *(u64 *)(c + 4968) = 0xe02b;                     /* kernel_ss */
  *(u64 *)(c + 4976) = top;                        /* kernel_sp */
  *(u64 *)(c + 4984 + 3 * 8) = l4_mfn << 12;       /* ctrlreg[3]: the kernel page table */
  *(u64 *)(c + 5112) = (u64)hypervisor_callback;   /* event_callback_eip */
  *(u64 *)(c + 5152) = (u64)&pcpu[k];              /* gs_base_kernel */
}

struct bind_virq { u32 virq, vcpu, port; };
struct bind_ipi { u32 vcpu, port; };

static void bind_ports(u32 k) {
  struct bind_virq bv = { 0, k, 0 };
  s64 rc1 = evtchn(1, &bv);
  struct bind_ipi bi = { k, 0 };
  s64 rc2 = evtchn(7, &bi);
  outk(k, "bind_virq_timer", rc1 < 0 ? rc1 : 0);
  outk(k, "bind_ipi", rc2 < 0 ? rc2 : 0);
  pcpu[k].timer_port = bv.port;
  pcpu[k].ipi_port = bi.port;
  port_cpu[bv.port] = k + 1;
  port_cpu[bi.port] = k + 1;
}

/* Waits with events enabled until cond(arg) holds (checked with events masked, then block). */
static void wait_cpu0(int (*cond)(u64), u64 arg) {
  for (;;) {
    mask_cpu_events(0);
    if (cond(arg)) break;
    block();
  }
  unmask_cpu_events(0);
}

static int all_online(u64 n) {
  for (u32 k = 1; k < n; k++) if (!pcpu[k].online) return 0;
  return 1;
}
static int pongs_at_least(u64 n) { return pcpu[0].ipis >= n; }
/* Every other vCPU has handled at least n IPIs (each counts its own: sends to one port coalesce). */
static int ipis_at_least(u64 n) {
  for (u32 k = 1; k < ncpus; k++) if (pcpu[k].ipis < n) return 0;
  return 1;
}
static u32 one_cpu;
static int cpu_ipis_at_least(u64 n) { return pcpu[one_cpu].ipis >= n; }
static int ticks_at_least(u64 n) {
  for (u32 k = 0; k < ncpus; k++) if (pcpu[k].ticks < n) return 0;
  return 1;
}

void guest_main(u8 *si) {
  console_init(si);
  p2m = *(u64 **)(si + SI_MFN_LIST);
  port_cpu[SI_U32(si, SI_CONSOLE_EVTCHN)] = 1; /* the console's notifications are handled (and dropped) on vCPU 0 */
  l4_mfn = p2m[*(u64 *)(si + 88) >> 12];
  puts_("\nTYPEVISOR-SMP begin\n");
  flush_sync();
  out("map_shared_info", map_shared_info(si));
  pcpu[0].id = 0;
  out("set_segment_base.gs_kernel", hc2(HC_set_segment_base, 2, (u64)&pcpu[0]));
  out("set_callbacks", hc3(HC_set_callbacks, (u64)hypervisor_callback, 0, 0));

  u32 n = 0;
  while (n < MAX_CPUS && vcpu_op(VCPUOP_is_up, n, 0) >= 0) n++;
  ncpus = n;
  out("vcpus", n);
  out("is_up.0", vcpu_op(VCPUOP_is_up, 0, 0));
  out("is_up.out_of_range", vcpu_op(VCPUOP_is_up, n, 0));
  out("is_up.huge", vcpu_op(VCPUOP_is_up, 0xffffffffUL, 0));
  fill_ctx(ctxbuf, n);
  out("initialise.out_of_range", vcpu_op(VCPUOP_initialise, n, (u64)ctxbuf));
  out("up.out_of_range", vcpu_op(VCPUOP_up, n, 0));
  out("down.out_of_range", vcpu_op(VCPUOP_down, n, 0));

  if (n >= 2) {
    u64 rs[6];
    memset_(rs, 0xee, sizeof rs);
    out("runstate.1.rc", vcpu_op(VCPUOP_get_runstate_info, 1, (u64)rs));
    out("runstate.1.state", (s64)(u32)rs[0]);
    out("is_up.1.before", vcpu_op(VCPUOP_is_up, 1, 0));
    out("up.uninitialised", vcpu_op(VCPUOP_up, 1, 0));
    out("initialise.bad_ptr", vcpu_op(VCPUOP_initialise, 1, BAD));
    fill_ctx(ctxbuf, 1);
    *(u64 *)(ctxbuf + 520 + 128) = 0x0000800000000000UL;
    out("initialise.noncanonical_rip", vcpu_op(VCPUOP_initialise, 1, (u64)ctxbuf));
    fill_ctx(ctxbuf, 1);
    *(u64 *)(ctxbuf + 5112) = 0x8000000000000000UL;
    out("initialise.noncanonical_callback", vcpu_op(VCPUOP_initialise, 1, (u64)ctxbuf));
    fill_ctx(ctxbuf, 1);
    *(u64 *)(ctxbuf + 512) = 0;
    out("initialise.user_mode_no_user_pt", vcpu_op(VCPUOP_initialise, 1, (u64)ctxbuf));
    fill_ctx(ctxbuf, 1);
    *(u64 *)(ctxbuf + 4984 + 3 * 8) = p2m[(u64)scratch >> 12] << 12;
    out("initialise.cr3_data_page", vcpu_op(VCPUOP_initialise, 1, (u64)ctxbuf));
    fill_ctx(ctxbuf, 1);
    *(u64 *)(ctxbuf + 4984 + 3 * 8) = 0xfffffff000UL;
    out("initialise.cr3_no_frame", vcpu_op(VCPUOP_initialise, 1, (u64)ctxbuf));
    fill_ctx(ctxbuf, 1);
    *(u64 *)(ctxbuf + 4816) = 0x123;                  /* ldt_base not page-aligned */
    *(u64 *)(ctxbuf + 4824) = 1;
    out("initialise.ldt_unaligned", vcpu_op(VCPUOP_initialise, 1, (u64)ctxbuf));
    out("is_up.1.after_bad", vcpu_op(VCPUOP_is_up, 1, 0));
  }

  bind_ports(0);
  for (u32 k = 1; k < n; k++) {
    bind_ports(k);
    pcpu[k].id = k;
    fill_ctx(ctxbuf, k);
    outk(k, "initialise", vcpu_op(VCPUOP_initialise, k, (u64)ctxbuf));
    outk(k, "initialise.again", vcpu_op(VCPUOP_initialise, k, (u64)ctxbuf));
    outk(k, "is_up.initialised", vcpu_op(VCPUOP_is_up, k, 0));
    outk(k, "up", vcpu_op(VCPUOP_up, k, 0));
    outk(k, "up.again", vcpu_op(VCPUOP_up, k, 0));
    outk(k, "is_up", vcpu_op(VCPUOP_is_up, k, 0));
  }
  unmask_cpu_events(0);
  wait_cpu0(all_online, n);
  out("all_online", 1);

  /* IPI ping-pong: vCPU 0 sends ROUNDS IPIs to each vCPU; each answers with an IPI back. */
  u64 expect = 0;
  for (u32 r = 0; r < ROUNDS; r++) {
    for (u32 k = 1; k < n; k++) {
      expect++;
      send(pcpu[k].ipi_port);
      wait_cpu0(pongs_at_least, expect);
    }
  }
  for (u32 k = 1; k < n; k++) outk(k, "ipis", (s64)pcpu[k].ipis);
  out("cpu.0.pongs", (s64)pcpu[0].ipis);

  /*
   * Spin phase: every vCPU CPU-bound until vCPU 0 has seen 10 more of its own ticks and every
   * vCPU at least 3 of its own (VIRQ_TIMER bound to it, the 10 ms periodic timer). Ticks are
   * counted while running: Xen runs a vCPU's periodic timer only while it is scheduled.
   */
  int hotplug = cmdline_has(si, "hotp");
  if (!hotplug) { /* (the hotplug mode skips it: it is for the daemon's verbs, not timing) */
    u64 t0 = pcpu[0].ticks;
    spin_phase = 1;
    for (u32 k = 1; k < n; k++) send(pcpu[k].ipi_port); /* wake them (a ping each) */
    while (pcpu[0].ticks < t0 + 10 || !ticks_at_least(3)) pcpu[0].spins++;
    spin_phase = 0;
    wait_cpu0(ipis_at_least, ROUNDS + 1);
    for (u32 k = 0; k < n; k++) outk(k, "ticks_ge_3", pcpu[k].ticks >= 3);
    for (u32 k = 0; k < n; k++) outk(k, "spins_gt0", pcpu[k].spins > 0);
  }

  /* Down, is_up, runstate, up again, and a ping to show it runs. */
  for (u32 k = 1; k < n; k++) {
    outk(k, "down", vcpu_op(VCPUOP_down, k, 0));
    outk(k, "is_up.down", vcpu_op(VCPUOP_is_up, k, 0));
    u64 rs[6];
    memset_(rs, 0xee, sizeof rs);
    vcpu_op(VCPUOP_get_runstate_info, k, (u64)rs);
    outk(k, "runstate.down", (s64)(u32)rs[0]);
    outk(k, "down.again", vcpu_op(VCPUOP_down, k, 0));
    outk(k, "up.after_down", vcpu_op(VCPUOP_up, k, 0));
    outk(k, "is_up.after_up", vcpu_op(VCPUOP_is_up, k, 0));
    one_cpu = k;
    u64 want = pcpu[k].ipis + 1;
    send(pcpu[k].ipi_port);
    wait_cpu0(cpu_ipis_at_least, want);
    outk(k, "ipi_after_up", 1);
  }
  puts_("TYPEVISOR-SMP end\n");
  flush_sync();
  if (hotplug) {
    xs_init(si, wait_cpu0);
    port_cpu[SI_U32(si, SI_STORE_EVTCHN)] = 1;
    hotplug_loop();
  }
  u32 reason = 0;
  hc2(HC_sched_op, 2, (u64)&reason);
  for (;;) yield();
}
