/*
 * Lifecycle guest (64-bit PV, freestanding): what a PV kernel does for the toolstack's lifecycle
 * verbs, in a few hundred lines. It
 *
 *   - prints "tick <n>" every `period` ms (command line `period=<ms>`, default 100) from its own
 *     set_timer_op deadlines on the PV clock, so pause, save/restore and migration show in the
 *     count;
 *   - echoes each console input line as "echo: <line>"; the line "crash" makes it crash
 *     (SCHEDOP_shutdown(SHUTDOWN_crash), as Linux's panic notifier does);
 *   - writes control/feature-poweroff, -reboot and -suspend = 1 as Linux does, watches
 *     control/shutdown and acknowledges a request by writing "" (Linux's shutdown_handler),
 *     then powers off, reboots or suspends;
 *   - with `suspend-evtchn` on its command line, also offers a suspend event channel in
 *     device/suspend/event-channel (EVTCHNOP_alloc_unbound for dom0), which the toolstack then
 *     signals instead of writing control/shutdown; `suspend=ignore` never acknowledges a
 *     suspend request and `suspend=ack` acknowledges without suspending (the toolstack's
 *     timeouts);
 *   - with `selftest`, writes "poweroff" to its own control/shutdown after tick 5 (a run
 *     under the real Xen needs no toolstack request);
 *   - suspends as a PV kernel must: start_info's xenstore and console frames rewritten as PFNs
 *     (Linux's xen_pre_suspend), then SCHEDOP_shutdown(SHUTDOWN_suspend) with start_info's MFN
 *     in the third argument. It returns 1 when the suspend was cancelled (xl save -c, a failed
 *     migration: the same domain goes on) and 0 in a new domain after a restore; then the
 *     guest maps shared_info again, reads the xenstore and console frames and ports from
 *     start_info again, binds VIRQ_TIMER again if it has to and registers its watch again.
 *
 * Built on ../lib; rebuild with ./build.sh.
 */
#include "xen.h"

#define HC_set_timer_op 15
#define SCHEDOP_shutdown 2
#define SHUTDOWN_poweroff 0
#define SHUTDOWN_reboot 1
#define SHUTDOWN_suspend 2
#define SHUTDOWN_crash 3
#define EVTCHNOP_bind_virq 1
#define EVTCHNOP_alloc_unbound 6
#define VIRQ_TIMER 0

/* How the guest answers a suspend request (command line `suspend=`): a test of the toolstack's timeouts. */
#define ANSWER_SUSPEND 0 /* default: acknowledge and suspend */
#define ANSWER_IGNORE 1  /* suspend=ignore: never acknowledge */
#define ANSWER_ACK 2     /* suspend=ack: acknowledge, then go on without suspending */

static u8 *start_info;
static volatile u8 *cons;
static u32 cons_port;
static volatile u8 *store;
static u64 period_ns = 100000000UL;
static u64 next_tick;
static u64 ticks;
static char line[128];
static u32 line_len;
static int answer;
/* The suspend event channel (command line `suspend-evtchn`), 0 for none, and whether it fired. */
static u32 suspend_port;
static int suspend_fired;
static int want_suspend_port;
/* Command line `selftest`: after tick 5 the guest asks itself to power off (writes its own
 * control/shutdown), so the watch, acknowledgement and poweroff run with no toolstack request. */
static int selftest;

/* ---- time: the PV clock in vcpu_info[0].time (version, tsc_timestamp, system_time, mul, shift) ---- */
static inline u64 rdtsc(void) {
  u32 lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((u64)hi << 32) | lo;
}

static u64 now_ns(void) {
  volatile u8 *t = shinfo_window + 32; /* vcpu_info[0].time */
  u32 ver;
  u64 tsc, sys, delta;
  u32 mul;
  signed char shift;
  do {
    ver = *(volatile u32 *)t;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    tsc = *(volatile u64 *)(t + 8);
    sys = *(volatile u64 *)(t + 16);
    mul = *(volatile u32 *)(t + 24);
    shift = *(volatile signed char *)(t + 28);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
  } while ((ver & 1) || ver != *(volatile u32 *)t);
  delta = rdtsc() - tsc;
  if (shift < 0) delta >>= -shift;
  else delta <<= shift;
  return sys + (u64)(((unsigned __int128)delta * mul) >> 32);
}

static void set_timer(u64 deadline) { hc2(HC_set_timer_op, deadline, 0); }

static s64 bind_timer(void) {
  struct { u32 virq, vcpu, port; } b = { VIRQ_TIMER, 0, 0 };
  s64 rc = hc2(HC_event_channel_op, EVTCHNOP_bind_virq, (u64)&b);
  return rc < 0 ? rc : (s64)b.port;
}

/* ---- the console's input ring (struct xencons_interface: in[1024], in_cons at 3072, in_prod at 3076) ---- */
#define IN_CONS (*(volatile u32 *)(cons + 3072))
#define IN_PROD (*(volatile u32 *)(cons + 3076))
#define RSP_CONS (*(volatile u32 *)(store + 2056))
#define RSP_PROD (*(volatile u32 *)(store + 2060))

static void wait_events(int (*cond)(u64), u64 arg);

/* Reads the frames and ports from start_info (at boot, and again in a new domain). */
static void connect(void) {
  cons_port = SI_U32(start_info, SI_CONSOLE_EVTCHN);
  cons = (volatile u8 *)(M2P[SI_U64(start_info, SI_CONSOLE_MFN)] << 12);
  store = (volatile u8 *)(M2P[SI_U64(start_info, SI_STORE_MFN)] << 12);
  console_init(start_info);
  xs_init(start_info, wait_events);
}

static int ready(u64 unused) {
  (void)unused;
  return RSP_PROD != RSP_CONS || IN_PROD != IN_CONS || xs_watch_fired || suspend_fired ||
         now_ns() >= next_tick;
}

/*
 * The library's wait_until with the suspend event channel noted: events masked, the pending
 * word taken atomically (its suspend bit remembered), then the condition, then SCHEDOP_block.
 * Used for xenstore waits too, so a suspend event during a xenstore request is not lost.
 */
static void wait_events(int (*cond)(u64), u64 arg) {
  for (;;) {
    shinfo_window[1] = 1; /* vcpu_info[0].evtchn_upcall_mask */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    u64 w = __atomic_exchange_n((volatile u64 *)(shinfo_window + 2048), 0, __ATOMIC_SEQ_CST);
    __atomic_store_n((volatile u64 *)(shinfo_window + 8), 0, __ATOMIC_SEQ_CST);
    if (suspend_port != 0 && ((w >> suspend_port) & 1)) suspend_fired = 1;
    if (cond(arg)) break;
    block();
  }
}

/* Offers dom0 a suspend event channel in device/suspend/event-channel (EVTCHNOP_alloc_unbound). */
static void offer_suspend_port(void) {
  struct { u16 dom, remote_dom; u32 port; } a = { DOMID_SELF, 0, 0 };
  if (hc2(HC_event_channel_op, EVTCHNOP_alloc_unbound, (u64)&a) < 0 || a.port >= 64) return;
  suspend_port = a.port;
  char num[24];
  fmt_num(num, a.port);
  xs_write("device/suspend/event-channel", num);
}

static void shutdown(u32 reason) {
  struct { u32 reason; } r = { reason };
  hc3(HC_sched_op, SCHEDOP_shutdown, (u64)&r, mfn_of(start_info));
}

static void watch_control(void) {
  /* EEXIST: the watch outlived a cancelled suspend, as it does under Xen. */
  if (xs_request(XS_WATCH, "control/shutdown", "ctl", 1) == XS_ERROR && !sprefix(xs_reply, "EEXIST")) {
    printk("lifecycle: watch failed: %s\n", xs_reply);
    flush();
  }
}

static void suspend(void) {
  puts_("lifecycle: suspending\n");
  flush_sync();
  /*
   * As Linux's xen_pre_suspend: while suspended, start_info names the xenstore and console
   * frames by PFN. libxc's restore turns them into the new domain's MFNs; after a cancelled
   * suspend the guest turns them back itself (xen_post_suspend).
   */
  u64 store_pfn = M2P[SI_U64(start_info, SI_STORE_MFN)];
  u64 cons_pfn = M2P[SI_U64(start_info, SI_CONSOLE_MFN)];
  SI_U64(start_info, SI_STORE_MFN) = store_pfn;
  SI_U64(start_info, SI_CONSOLE_MFN) = cons_pfn;
  struct { u32 reason; } r = { SHUTDOWN_suspend };
  s64 rc = hc3(HC_sched_op, SCHEDOP_shutdown, (u64)&r, mfn_of(start_info));
  if (rc != 0) {
    SI_U64(start_info, SI_STORE_MFN) = p2m[store_pfn];
    SI_U64(start_info, SI_CONSOLE_MFN) = p2m[cons_pfn];
  } else {
    /* A new domain: shared_info, the store and console frames and ports may all have moved. */
    map_shared_info(start_info);
    connect();
    bind_timer(); /* -EEXIST when the binding came along with the domain's event channels */
    if (want_suspend_port) offer_suspend_port();
  }
  /*
   * Register the watch again either way: a new domain's xenstore connection has none, and a
   * toolstack may have reconnected the ring around a cancelled save.
   */
  watch_control();
  printk("lifecycle: resumed rc=%d at tick %u\n", rc, ticks);
  flush();
  next_tick = now_ns() + period_ns; /* the clock may have moved to another host's */
  set_timer(next_tick);
}

static void handle_control(void) {
  char req[32];
  if (xs_read("control/shutdown", req, sizeof req) <= 0) return;
  if (answer == ANSWER_IGNORE && sprefix(req, "suspend")) return;
  xs_write("control/shutdown", ""); /* acknowledge, as Linux's shutdown_handler does */
  if (sprefix(req, "poweroff") || sprefix(req, "halt")) {
    puts_("lifecycle: poweroff\n");
    flush_sync();
    shutdown(SHUTDOWN_poweroff);
  } else if (sprefix(req, "reboot")) {
    puts_("lifecycle: reboot\n");
    flush_sync();
    shutdown(SHUTDOWN_reboot);
  } else if (sprefix(req, "suspend")) {
    if (answer == ANSWER_SUSPEND) suspend();
    else {
      puts_("lifecycle: not suspending\n");
      flush();
    }
  } else {
    printk("lifecycle: unknown request %s\n", req);
    flush();
  }
}

static void handle_input(void) {
  while (IN_PROD != IN_CONS) {
    char c = (char)cons[IN_CONS & 1023];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    IN_CONS = IN_CONS + 1;
    if (c == '\r' || c == '\n') {
      if (line_len == 0) continue;
      line[line_len] = 0;
      printk("echo: %s\n", line);
      flush();
      line_len = 0;
      if (line[0] == 'c' && line[1] == 'r' && line[2] == 'a' && line[3] == 's' && line[4] == 'h' && line[5] == 0) {
        puts_("lifecycle: crash requested\n");
        flush_sync();
        shutdown(SHUTDOWN_crash);
      }
    } else if (line_len + 1 < sizeof line) {
      line[line_len++] = c;
    }
  }
  send(cons_port); /* the backend may have more input waiting for room */
}

void guest_main(u8 *si) {
  start_info = si;
  xen_start(si);
  connect();
  const char *cmd = (const char *)(si + SI_CMD_LINE);
  for (int i = 0; cmd[i]; i++)
    if (sprefix(cmd + i, "period=")) period_ns = parse_num(cmd + i + 7) * 1000000UL;
  if (period_ns == 0) period_ns = 100000000UL;
  if (cmdline_has(si, "suspend=ignore")) answer = ANSWER_IGNORE;
  if (cmdline_has(si, "suspend=ack")) answer = ANSWER_ACK;
  want_suspend_port = cmdline_has(si, "suspend-evtchn");
  selftest = cmdline_has(si, "selftest");
  s64 port = bind_timer();
  xs_write("control/feature-poweroff", "1");
  xs_write("control/feature-reboot", "1");
  xs_write("control/feature-suspend", "1");
  if (want_suspend_port) offer_suspend_port();
  printk("lifecycle: boot period=%u ms timer port %d\n", period_ns / 1000000UL, port);
  flush();
  watch_control(); /* registering fires the watch once: a request made before boot is seen */
  next_tick = now_ns() + period_ns;
  set_timer(next_tick);
  for (;;) {
    wait_events(ready, 0);
    if (suspend_fired) {
      suspend_fired = 0;
      suspend();
    }
    if (RSP_PROD != RSP_CONS) xs_read_msg();
    if (xs_watch_fired) {
      xs_watch_fired = 0;
      handle_control();
    }
    if (IN_PROD != IN_CONS) handle_input();
    u64 now = now_ns();
    if (now >= next_tick) {
      printk("tick %u\n", ++ticks);
      flush();
      if (selftest && ticks == 5) xs_write("control/shutdown", "poweroff");
      next_tick += period_ns;
      if (next_tick <= now) next_tick = now + period_ns;
      set_timer(next_tick);
    }
  }
}
