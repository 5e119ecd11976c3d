/*
 * Balloon guest (64-bit PV, freestanding): a minimal version of Linux's xen-balloon driver.
 * It watches its own `memory/target` (KiB, written by the toolstack: `xl mem-set`) over the
 * xenstore ring and gives pages back with XENMEM_decrease_reservation or takes them again with
 * XENMEM_populate_physmap until XENMEM_current_reservation matches, then prints one line:
 *
 *   balloon: target=<KiB> KiB current=<KiB> KiB
 *
 * or, when the hypervisor refuses pages (max_pages reached: `xl mem-max`),
 *
 *   balloon: populate_physmap refused at current=<KiB> KiB
 *
 * Only pages above the boot mapping (which Xen's builder ends on a 4 MiB boundary, at least
 * 512 KiB past the boot page tables) are ballooned: they are mapped nowhere, so giving them away
 * needs no page-table change. It sleeps in SCHEDOP_block between xenstore messages (its event
 * callback only acknowledges the upcall; the main loop reads the ring). With "busy" on its
 * command line it spins instead, a CPU-bound guest for scheduler tests; with "selftest" it
 * balloons 4 MiB down and back up once after the first target. Rebuild with ./build.sh.
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

#define HC_set_callbacks 4
#define HC_memory_op 12
#define HC_update_va_mapping 14
#define HC_sched_op 29
#define HC_event_channel_op 32

#define XENMEM_decrease_reservation 1
#define XENMEM_current_reservation 3
#define XENMEM_populate_physmap 6
#define DOMID_SELF 0x7ff0
#define INVALID_P2M (~0UL)

#define XS_READ 2
#define XS_WATCH 4
#define XS_WATCH_EVENT 15
#define XS_ERROR 16

static volatile u8 *cons;
static u32 cons_port;
static volatile u8 *store;
static u32 store_port;
static u64 *p2m;
static u64 nr_pages;
static u64 floor_pfn;
static const u64 *m2p = (const u64 *)0xFFFF800000000000UL;
u8 shinfo_window[4096] __attribute__((aligned(4096)));
extern char hypervisor_callback[], failsafe_callback[];

static void send(u32 port) { u32 p = port; hc2(HC_event_channel_op, 4, (u64)&p); }
static void yield(void) { hc2(HC_sched_op, 0, 0); }

/*
 * Waits for an event the way a kernel does without losing one: events are masked
 * (vcpu_info.evtchn_upcall_mask) while the ports' pending bits are cleared and the caller's
 * condition is checked, then SCHEDOP_block unmasks them and sleeps only if none is pending.
 */
static void mask_events(void) {
  volatile u8 *vi = shinfo_window;
  vi[1] = 1;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  volatile u64 *pend = (volatile u64 *)(shinfo_window + 2048);
  __atomic_and_fetch(&pend[store_port / 64], ~(1UL << (store_port % 64)), __ATOMIC_SEQ_CST);
  __atomic_and_fetch(&pend[cons_port / 64], ~(1UL << (cons_port % 64)), __ATOMIC_SEQ_CST);
  __atomic_store_n((volatile u64 *)(shinfo_window + 8), 0, __ATOMIC_SEQ_CST); /* pending_sel */
}
static void block(void) { hc2(HC_sched_op, 1, 0); }

/* ---- console ---- */
static void putch(char c) {
  volatile u32 *out_cons = (volatile u32 *)(cons + 3080);
  volatile u32 *out_prod = (volatile u32 *)(cons + 3084);
  while (*out_prod - *out_cons >= 2048) yield();
  cons[1024 + (*out_prod & 2047)] = (u8)c;
  asm volatile("" ::: "memory");
  *out_prod = *out_prod + 1;
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
static void flush(void) { send(cons_port); }

/* ---- xenstore ring (struct xenstore_domain_interface) ---- */
#define REQ_CONS (*(volatile u32 *)(store + 2048))
#define REQ_PROD (*(volatile u32 *)(store + 2052))
#define RSP_CONS (*(volatile u32 *)(store + 2056))
#define RSP_PROD (*(volatile u32 *)(store + 2060))

static int target_changed;
/* Command line "busy": spin on the ring instead of blocking (a CPU-bound guest for scheduler tests). */
static int busy;
/* Command line "selftest": after the first target, balloon 4 MiB down and back up once. */
static int selftest;
static char reply[4096];
static u32 reply_len;
static u32 next_req_id = 1;

static void ring_write(const void *data, u32 len) {
  const u8 *d = data;
  for (u32 i = 0; i < len; i++) {
    while (REQ_PROD - REQ_CONS >= 1024) { send(store_port); yield(); }
    store[REQ_PROD & 1023] = d[i];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    REQ_PROD = REQ_PROD + 1;
  }
}

/* Waits until `n` response bytes are available (sleeping in between), then copies them. */
static void ring_read(void *dst, u32 n) {
  u8 *d = dst;
  for (u32 i = 0; i < n; i++) {
    for (;;) {
      if (busy) { if (RSP_PROD != RSP_CONS) break; continue; }
      mask_events();
      if (RSP_PROD != RSP_CONS) break;
      block();
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    d[i] = store[1024 + (RSP_CONS & 1023)];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    RSP_CONS = RSP_CONS + 1;
  }
  send(store_port);
}

struct xsd_msg { u32 type, req_id, tx_id, len; };

/* Reads one message; a watch event only sets `target_changed`. Returns its type. */
static u32 read_msg(void) {
  struct xsd_msg h;
  ring_read(&h, sizeof h);
  u32 keep = h.len < sizeof reply - 1 ? h.len : sizeof reply - 1;
  ring_read(reply, keep);
  for (u32 i = keep; i < h.len; i++) { char c; ring_read(&c, 1); }
  reply[keep] = 0;
  reply_len = keep;
  if (h.type == XS_WATCH_EVENT) target_changed = 1;
  return h.type;
}

static u32 slen(const char *s) { u32 n = 0; while (s[n]) n++; return n; }

/* Sends a request of two strings (the second may be null) and returns the reply's type. */
static u32 xs_request(u32 type, const char *a, const char *b) {
  struct xsd_msg h = { type, next_req_id++, 0, slen(a) + 1 + (b ? slen(b) + 1 : 0) };
  ring_write(&h, sizeof h);
  ring_write(a, slen(a) + 1);
  if (b) ring_write(b, slen(b) + 1);
  send(store_port);
  for (;;) {
    u32 t = read_msg();
    if (t != XS_WATCH_EVENT) return t;
  }
}

/* ---- memory_op ---- */
struct reservation { u64 *extent_start; u64 nr_extents; u32 extent_order; u32 mem_flags; u16 domid; };

static s64 reserve(int cmd, u64 *extent) {
  struct reservation r = { extent, 1, 0, 0, DOMID_SELF };
  return hc2(HC_memory_op, (u64)cmd, (u64)&r);
}
static s64 current_pages(void) { u16 d = DOMID_SELF; return hc2(HC_memory_op, XENMEM_current_reservation, (u64)&d); }

static void balloon_to(s64 target_kib) {
  s64 target = target_kib / 4;
  s64 cur = current_pages();
  int refused = 0;
  for (u64 pfn = nr_pages; cur > target && pfn-- > floor_pfn;) {
    if (p2m[pfn] == INVALID_P2M) continue;
    u64 mfn = p2m[pfn];
    if (reserve(XENMEM_decrease_reservation, &mfn) != 1) break;
    p2m[pfn] = INVALID_P2M;
    cur--;
  }
  for (u64 pfn = floor_pfn; cur < target && pfn < nr_pages; pfn++) {
    if (p2m[pfn] != INVALID_P2M) continue;
    u64 ext = pfn;
    if (reserve(XENMEM_populate_physmap, &ext) != 1) { refused = 1; break; }
    p2m[pfn] = ext; /* a PV guest gets the new frame's MFN back in the extent list */
    cur++;
  }
  cur = current_pages();
  if (refused) {
    puts_("balloon: populate_physmap refused at current=");
  } else {
    puts_("balloon: target=");
    putnum(target_kib);
    puts_(" KiB current=");
  }
  putnum(cur * 4);
  puts_(" KiB\n");
  flush();
}

void guest_main(u8 *si) {
  u64 cons_mfn = *(u64 *)(si + 72);
  cons_port = *(u32 *)(si + 80);
  cons = (volatile u8 *)(m2p[cons_mfn] << 12);
  store = (volatile u8 *)(m2p[*(u64 *)(si + 56)] << 12);
  store_port = *(u32 *)(si + 64);
  p2m = *(u64 **)(si + 104);
  nr_pages = *(u64 *)(si + 32);
  u64 pt_end = *(u64 *)(si + 88) + *(u64 *)(si + 96) * 4096;
  floor_pfn = ((pt_end + 0x80000 + 0x3fffff) & ~0x3fffffUL) >> 12;
  hc5(HC_update_va_mapping, (u64)shinfo_window, *(u64 *)(si + 40) | 0x67, 2, 0, 0);
  hc5(HC_set_callbacks, (u64)hypervisor_callback, (u64)failsafe_callback, 0, 0, 0);

  const char *cmd = (const char *)(si + 128);
  for (int i = 0; cmd[i]; i++)
    if (cmd[i] == 'b' && cmd[i + 1] == 'u' && cmd[i + 2] == 's' && cmd[i + 3] == 'y') busy = 1;
    else if (cmd[i] == 's' && cmd[i + 1] == 'e' && cmd[i + 2] == 'l' && cmd[i + 3] == 'f') selftest = 1;
  puts_(busy ? "balloon: busy\n" : "");
  puts_("balloon: start pages=");
  putnum((s64)nr_pages);
  puts_(" floor=");
  putnum((s64)floor_pfn);
  puts_("\n");
  flush();
  /* Registering a watch fires it once, so the first target is read at once. */
  if (xs_request(XS_WATCH, "memory/target", "balloon") == XS_ERROR) {
    puts_("balloon: watch failed: ");
    puts_(reply);
    puts_("\n");
    flush();
  }
  for (;;) {
    if (target_changed) {
      target_changed = 0;
      if (xs_request(XS_READ, "memory/target", 0) == XS_READ) {
        s64 kib = 0;
        for (u32 i = 0; i < reply_len && reply[i] >= '0' && reply[i] <= '9'; i++)
          kib = kib * 10 + (reply[i] - '0');
        balloon_to(kib);
        if (selftest) {
          selftest = 0;
          balloon_to(kib - 4096);
          balloon_to(kib);
          puts_("balloon: selftest done\n");
          flush();
        }
      }
      continue;
    }
    read_msg(); /* blocks in SCHEDOP_block until the next watch event */
  }
}
