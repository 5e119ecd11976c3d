/*
 * Netping guest (64-bit PV, freestanding): a minimal netfront. It connects device/vif/0 the way
 * Linux's xen-netfront does (grant table set up with GNTTABOP_setup_table, tx and rx rings and
 * receive buffers granted to the backend, an event channel allocated for it, the keys written
 * and the state moved to Connected), then:
 *
 *   - with "ping" on its command line, broadcasts "ping from <mac>" every time it is idle
 *     until an answer arrives, and prints "netping: <mac> answered: pong to <mac>";
 *   - otherwise (pong) answers every ping with "pong to <mac>" sent to the pinger and prints
 *     "netping: ping from <mac>".
 *
 * It sleeps in SCHEDOP_block between events, as the balloon guest does. Rebuild with ./build.sh.
 */
typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef long s64;
typedef short s16;

extern char hypercall_page[];
extern char hypervisor_callback[], failsafe_callback[];

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
static s64 hc3(int nr, u64 a1, u64 a2, u64 a3) { return hc5(nr, a1, a2, a3, 0, 0); }
static s64 hc2(int nr, u64 a1, u64 a2) { return hc5(nr, a1, a2, 0, 0, 0); }

#define HC_set_callbacks 4
#define HC_update_va_mapping 14
#define HC_grant_table_op 20
#define HC_sched_op 29
#define HC_event_channel_op 32
#define DOMID_SELF 0x7ff0

#define XS_READ 2
#define XS_WATCH 4
#define XS_WRITE 11
#define XS_WATCH_EVENT 15
#define XS_ERROR 16

u8 shinfo_window[4096] __attribute__((aligned(4096)));
static u8 gnttab_window[4096] __attribute__((aligned(4096)));
static u8 tx_ring[4096] __attribute__((aligned(4096)));
static u8 rx_ring[4096] __attribute__((aligned(4096)));
static u8 tx_buf[4096] __attribute__((aligned(4096)));
#define NR_RX 8
static u8 rx_buf[NR_RX][4096] __attribute__((aligned(4096)));

static volatile u8 *cons;
static u32 cons_port;
static volatile u8 *store;
static u32 store_port;
static u32 net_port;
static u64 *p2m;
static const u64 *m2p = (const u64 *)0xFFFF800000000000UL;

static void send(u32 port) { u32 p = port; hc2(HC_event_channel_op, 4, (u64)&p); }
static void yield(void) { hc2(HC_sched_op, 0, 0); }
static void block(void) { hc2(HC_sched_op, 1, 0); }
static u64 mfn_of(const void *p) { return p2m[(u64)p >> 12]; }

/* Masks events and clears every pending port (the caller then checks its rings). */
static void mask_events(void) {
  volatile u8 *vi = shinfo_window;
  vi[1] = 1;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  __atomic_store_n((volatile u64 *)(shinfo_window + 2048), 0, __ATOMIC_SEQ_CST);
  __atomic_store_n((volatile u64 *)(shinfo_window + 8), 0, __ATOMIC_SEQ_CST);
}

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
static void flush(void) { send(cons_port); }
static u32 slen(const char *s) { u32 n = 0; while (s[n]) n++; return n; }
static void scopy(char *d, const char *s) { while ((*d++ = *s++)) {} }
static int sprefix(const char *s, const char *p) { while (*p) if (*s++ != *p++) return 0; return 1; }

/* ---- xenstore ---- */
#define REQ_CONS (*(volatile u32 *)(store + 2048))
#define REQ_PROD (*(volatile u32 *)(store + 2052))
#define RSP_CONS (*(volatile u32 *)(store + 2056))
#define RSP_PROD (*(volatile u32 *)(store + 2060))
static char reply[1024];
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
static void ring_read(void *dst, u32 n) {
  u8 *d = dst;
  for (u32 i = 0; i < n; i++) {
    for (;;) {
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
static u32 read_msg(void) {
  struct xsd_msg h;
  ring_read(&h, sizeof h);
  u32 keep = h.len < sizeof reply - 1 ? h.len : sizeof reply - 1;
  ring_read(reply, keep);
  for (u32 i = keep; i < h.len; i++) { char c; ring_read(&c, 1); }
  reply[keep] = 0;
  return h.type;
}
/* A request of `a` (with its NUL) and `b` (with its NUL unless it is a written value). */
static u32 xs_request(u32 type, const char *a, const char *b, int b_nul) {
  u32 blen = b ? slen(b) + (b_nul ? 1 : 0) : 0;
  struct xsd_msg h = { type, next_req_id++, 0, slen(a) + 1 + blen };
  ring_write(&h, sizeof h);
  ring_write(a, slen(a) + 1);
  if (b) ring_write(b, blen);
  send(store_port);
  for (;;) {
    u32 t = read_msg();
    if (t != XS_WATCH_EVENT) return t;
  }
}
static int xs_read(const char *path, char *out, u32 max) {
  if (xs_request(XS_READ, path, 0, 0) != XS_READ) return -1;
  u32 i = 0;
  for (; reply[i] && i + 1 < max; i++) out[i] = reply[i];
  out[i] = 0;
  return (int)i;
}
static void xs_write(const char *path, const char *value) { xs_request(XS_WRITE, path, value, 0); }
static void fmt_num(char *out, u64 v) {
  char buf[24];
  int i = 0;
  do { buf[i++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (i) *out++ = buf[--i];
  *out = 0;
}
static void join(char *out, const char *a, const char *b) { scopy(out, a); scopy(out + slen(a), b); }

/* ---- grant table (v1 entries: u16 flags, u16 domid, u32 frame) ---- */
static u32 next_ref = 8; /* 0-7 are reserved (console, xenstore) */
static u32 grant(const void *page, u16 domid) {
  u32 ref = next_ref++;
  volatile u8 *e = gnttab_window + ref * 8;
  *(volatile u16 *)(e + 2) = domid;
  *(volatile u32 *)(e + 4) = (u32)mfn_of(page);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  *(volatile u16 *)e = 1; /* GTF_permit_access */
  return ref;
}

/* ---- netif rings (64-byte shared ring header, then entries) ---- */
#define S_REQ_PROD(r) (*(volatile u32 *)((r) + 0))
#define S_REQ_EVENT(r) (*(volatile u32 *)((r) + 4))
#define S_RSP_PROD(r) (*(volatile u32 *)((r) + 8))
#define S_RSP_EVENT(r) (*(volatile u32 *)((r) + 12))
#define TX_SIZE 256 /* (4096 - 64) / 12 rounded down to a power of two */
#define RX_SIZE 256 /* (4096 - 64) / 8 rounded down to a power of two */
static u32 tx_prod, tx_cons, rx_prod, rx_cons;
static u32 tx_gref, rx_gref[NR_RX];
static u8 mac[6];
static int ping;

static void ring_init(u8 *r) {
  for (int i = 0; i < 4096; i++) r[i] = 0;
  S_REQ_EVENT(r) = 1;
  S_RSP_EVENT(r) = 1;
}
static void post_rx(u16 id) {
  u8 *e = rx_ring + 64 + (rx_prod % RX_SIZE) * 8;
  *(u16 *)e = id;
  *(u32 *)(e + 4) = rx_gref[id];
  rx_prod++;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  S_REQ_PROD(rx_ring) = rx_prod;
}
static void transmit(const u8 *dst, const char *text) {
  u8 *f = tx_buf;
  for (int i = 0; i < 6; i++) { f[i] = dst[i]; f[6 + i] = mac[i]; }
  f[12] = 0x88;
  f[13] = 0xb5;
  u32 n = 14;
  for (const char *s = text; *s; s++) f[n++] = (u8)*s;
  while (n < 60) f[n++] = 0;
  u8 *e = tx_ring + 64 + (tx_prod % TX_SIZE) * 12;
  *(u32 *)e = tx_gref;
  *(u16 *)(e + 4) = 0;   /* offset */
  *(u16 *)(e + 6) = 0;   /* flags */
  *(u16 *)(e + 8) = 0;   /* id */
  *(u16 *)(e + 10) = (u16)n;
  tx_prod++;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  S_REQ_PROD(tx_ring) = tx_prod;
  send(net_port);
  /* One buffer: wait for its response before the next frame. */
  for (;;) {
    mask_events();
    if (S_RSP_PROD(tx_ring) != tx_cons) break;
    block();
  }
  tx_cons = S_RSP_PROD(tx_ring);
}
static void put_mac(const u8 *m) {
  for (int i = 0; i < 6; i++) {
    if (i) putch(':');
    putch("0123456789abcdef"[m[i] >> 4]);
    putch("0123456789abcdef"[m[i] & 15]);
  }
}
static int parse_mac(const char *s, u8 *out) {
  for (int i = 0; i < 6; i++) {
    u8 v = 0;
    for (int k = 0; k < 2; k++) {
      char c = *s++;
      v = (u8)(v << 4);
      if (c >= '0' && c <= '9') v |= (u8)(c - '0');
      else if (c >= 'a' && c <= 'f') v |= (u8)(c - 'a' + 10);
      else return -1;
    }
    out[i] = v;
    if (i < 5 && *s++ != ':') return -1;
  }
  return 0;
}
static void mac_text(char *out, const u8 *m) {
  for (int i = 0; i < 6; i++) {
    *out++ = "0123456789abcdef"[m[i] >> 4];
    *out++ = "0123456789abcdef"[m[i] & 15];
    if (i < 5) *out++ = ':';
  }
  *out = 0;
}

void guest_main(u8 *si) {
  cons_port = *(u32 *)(si + 80);
  cons = (volatile u8 *)(m2p[*(u64 *)(si + 72)] << 12);
  store = (volatile u8 *)(m2p[*(u64 *)(si + 56)] << 12);
  store_port = *(u32 *)(si + 64);
  p2m = *(u64 **)(si + 104);
  const char *cmd = (const char *)(si + 128);
  for (int i = 0; cmd[i]; i++) if (sprefix(cmd + i, "ping")) ping = 1;
  hc5(HC_update_va_mapping, (u64)shinfo_window, *(u64 *)(si + 40) | 0x67, 2, 0, 0);
  hc5(HC_set_callbacks, (u64)hypervisor_callback, (u64)failsafe_callback, 0, 0, 0);

  /* GNTTABOP_setup_table: our first grant frame, mapped at gnttab_window. */
  u64 frame = 0;
  struct { u16 dom; u16 pad; u32 nr_frames; s16 status; u16 pad2[3]; u64 *frame_list; } st =
      { DOMID_SELF, 0, 1, 0, {0, 0, 0}, &frame };
  s64 rc = hc3(HC_grant_table_op, 2, (u64)&st, 1);
  if (rc != 0 || st.status != 0) { puts_("netping: setup_table failed\n"); flush(); return; }
  hc5(HC_update_va_mapping, (u64)gnttab_window, (frame << 12) | 0x67, 2, 0, 0);

  char be[128], path[192], val[64];
  if (xs_read("device/vif/0/backend", be, sizeof be) <= 0) {
    puts_("netping: no device/vif/0\n");
    flush();
    return;
  }
  xs_read("device/vif/0/mac", val, sizeof val);
  parse_mac(val, mac);
  puts_(ping ? "netping: ping " : "netping: pong ");
  put_mac(mac);
  puts_("\n");
  flush();
  /* Wait for the backend's InitWait (2): watch its state. */
  join(path, be, "/state");
  xs_request(XS_WATCH, path, "netping", 1);
  for (;;) {
    if (xs_read(path, val, sizeof val) > 0 && val[0] >= '2') break;
    read_msg();
  }
  ring_init(tx_ring);
  ring_init(rx_ring);
  tx_gref = grant(tx_buf, 0);
  for (int i = 0; i < NR_RX; i++) rx_gref[i] = grant(rx_buf[i], 0);
  u32 tx_ring_ref = grant(tx_ring, 0);
  u32 rx_ring_ref = grant(rx_ring, 0);
  struct { u16 dom, remote; u32 port; } au = { DOMID_SELF, 0, 0 };
  if (hc2(HC_event_channel_op, 6, (u64)&au) != 0) { puts_("netping: alloc_unbound failed\n"); flush(); return; }
  net_port = au.port;
  for (u16 i = 0; i < NR_RX; i++) post_rx(i);
  fmt_num(val, tx_ring_ref);
  xs_write("device/vif/0/tx-ring-ref", val);
  fmt_num(val, rx_ring_ref);
  xs_write("device/vif/0/rx-ring-ref", val);
  fmt_num(val, net_port);
  xs_write("device/vif/0/event-channel", val);
  xs_write("device/vif/0/request-rx-copy", "1");
  xs_write("device/vif/0/feature-rx-notify", "1");
  xs_write("device/vif/0/state", "4");
  for (;;) {
    if (xs_read(path, val, sizeof val) > 0 && val[0] == '4') break;
    read_msg();
  }
  puts_("netping: connected\n");
  flush();

  static const u8 broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
  char text[64], mtext[20];
  mac_text(mtext, mac);
  int answered = 0;
  if (ping) { join(text, "ping from ", mtext); transmit(broadcast, text); }
  for (;;) {
    u32 prod = S_RSP_PROD(rx_ring);
    if (prod == rx_cons) {
      mask_events();
      if (S_RSP_PROD(rx_ring) != rx_cons) continue;
      if (ping && !answered) {
        /* Nobody answered yet (the other side may not be connected): ping again later. */
        for (int i = 0; i < 200; i++) yield();
        if (S_RSP_PROD(rx_ring) == rx_cons) transmit(broadcast, text);
        continue;
      }
      block();
      continue;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    u8 *e = rx_ring + 64 + (rx_cons % RX_SIZE) * 8;
    u16 id = *(u16 *)e;
    u16 off = *(u16 *)(e + 2);
    s16 status = *(s16 *)(e + 6);
    rx_cons++;
    S_RSP_EVENT(rx_ring) = rx_cons + 1;
    if (status > 14 && id < NR_RX) {
      const u8 *f = rx_buf[id] + off;
      char msg[64];
      u32 n = 0;
      for (int i = 14; i < status && n + 1 < sizeof msg && f[i]; i++) msg[n++] = (char)f[i];
      msg[n] = 0;
      char src[20];
      mac_text(src, f + 6);
      if (!ping && sprefix(msg, "ping from ")) {
        puts_("netping: ");
        puts_(msg);
        puts_("\n");
        flush();
        join(text, "pong to ", msg + 10);
        transmit(f + 6, text);
      } else if (ping && sprefix(msg, "pong to ") && !answered) {
        answered = 1;
        puts_("netping: ");
        puts_(src);
        puts_(" answered: ");
        puts_(msg);
        puts_("\n");
        flush();
      }
    }
    if (id < NR_RX) post_rx(id);
    send(net_port);
  }
}
