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
 * It sleeps in SCHEDOP_block between events, as the balloon guest does. Built on ../lib (console,
 * xenstore ring, grant table, start of day); rebuild with ./build.sh.
 */
#include "xen.h"

static u8 tx_ring[4096] __attribute__((aligned(4096)));
static u8 rx_ring[4096] __attribute__((aligned(4096)));
static u8 tx_buf[4096] __attribute__((aligned(4096)));
#define NR_RX 8
static u8 rx_buf[NR_RX][4096] __attribute__((aligned(4096)));

static u32 net_port;

/* ---- netif rings (64-byte shared ring header, then entries) ---- */
#define TX_SIZE 256 /* (4096 - 64) / 12 rounded down to a power of two */
#define RX_SIZE 256 /* (4096 - 64) / 8 rounded down to a power of two */
static u32 tx_prod, tx_cons, rx_prod, rx_cons;
static u32 tx_gref, rx_gref[NR_RX];
static u8 mac[6];
static int ping;

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
  xen_start(si);
  ping = cmdline_has(si, "ping");
  if (gnttab_init() != 0) { puts_("netping: setup_table failed\n"); flush(); return; }

  char be[128], path[192], val[64];
  if (xs_read("device/vif/0/backend", be, sizeof be) <= 0) {
    puts_("netping: no device/vif/0\n");
    flush();
    return;
  }
  xs_read("device/vif/0/mac", val, sizeof val);
  parse_mac(val, mac);
  char mtext[20];
  mac_text(mtext, mac);
  printk("netping: %s %s\n", ping ? "ping" : "pong", mtext);
  flush();
  /* Wait for the backend's InitWait (2): watch its state. */
  join(path, be, "/state");
  xs_request(XS_WATCH, path, "netping", 1);
  for (;;) {
    if (xs_read(path, val, sizeof val) > 0 && val[0] >= '2') break;
    xs_read_msg();
  }
  sring_init(tx_ring);
  sring_init(rx_ring);
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
    xs_read_msg();
  }
  puts_("netping: connected\n");
  flush();

  static const u8 broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
  char text[64];
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
        printk("netping: %s\n", msg);
        flush();
        join(text, "pong to ", msg + 10);
        transmit(f + 6, text);
      } else if (ping && sprefix(msg, "pong to ") && !answered) {
        answered = 1;
        printk("netping: %s answered: %s\n", src, msg);
        flush();
      }
    }
    if (id < NR_RX) post_rx(id);
    send(net_port);
  }
}
