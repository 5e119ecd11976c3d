/*
 * Blkhot guest (64-bit PV, freestanding): a minimal blkfront that handles hot-plug, for
 * `xl block-attach` / `block-detach`. It watches its `device/vbd` directory; when a disk appears
 * (frontend state Initialising) it connects it as Linux's xen-blkfront does (ring and buffer
 * granted to the backend, `ring-ref`, `event-channel`, `protocol` and Initialised, then
 * Connected once the backend is), reads sector 0 and prints its first bytes; when the backend
 * goes to Closing (the toolstack removes the disk) it closes (Closing, Closed), gives its grants
 * and channel back, and waits for the next disk.
 *
 * Printed lines: "blkhot: <devid> connected, <n> sectors", "blkhot: <devid> sector 0: <text>",
 * "blkhot: <devid> closed". The helpers (console, xenstore ring, grant entries) are the netping
 * guest's. Rebuild with ./build.sh.
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

static volatile u8 *cons;
static u32 cons_port;
static volatile u8 *store;
static u32 store_port;
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

/* ---- blkif ring: 64-byte shared ring header, 112-byte requests, 16-byte responses ---- */
#define S_REQ_PROD(r) (*(volatile u32 *)((r) + 0))
#define S_REQ_EVENT(r) (*(volatile u32 *)((r) + 4))
#define S_RSP_PROD(r) (*(volatile u32 *)((r) + 8))
#define S_RSP_EVENT(r) (*(volatile u32 *)((r) + 12))
#define BLK_RING_SIZE 32
static u8 blk_ring[4096] __attribute__((aligned(4096)));
static u8 blk_buf[4096] __attribute__((aligned(4096)));
static u32 blk_port;
static u32 req_prod, rsp_cons;

static u64 parse_num(const char *s) {
  u64 v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (u64)(*s++ - '0');
  return v;
}

/* Reads the backend's state (-1 when gone). */
static int be_state(const char *be) {
  char path[192], val[16];
  join(path, be, "/state");
  if (xs_read(path, val, sizeof val) <= 0) return -1;
  return (int)parse_num(val);
}

/* Waits (on watch events) until the backend's state is in [lo, hi], closing or gone. */
static int wait_be(const char *be, int lo, int hi) {
  for (;;) {
    int s = be_state(be);
    if (s >= lo && s <= hi) return s;
    if (s < 0 || s >= 5) return s;
    read_msg();
  }
}

/* Reads one 512-byte sector into blk_buf; returns the response status. */
static int read_sector(u16 handle, u64 sector, u32 gref) {
  u8 *e = blk_ring + 64 + (req_prod % BLK_RING_SIZE) * 112;
  for (int i = 0; i < 112; i++) e[i] = 0;
  e[0] = 0; /* BLKIF_OP_READ */
  e[1] = 1; /* one segment */
  *(u16 *)(e + 2) = handle;
  *(u64 *)(e + 8) = 7; /* id */
  *(u64 *)(e + 16) = sector;
  *(u32 *)(e + 24) = gref;
  e[28] = 0; /* first_sect */
  e[29] = 0; /* last_sect */
  req_prod++;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  S_REQ_PROD(blk_ring) = req_prod;
  send(blk_port);
  for (;;) {
    mask_events();
    if (S_RSP_PROD(blk_ring) != rsp_cons) break;
    block();
  }
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  u8 *r = blk_ring + 64 + (rsp_cons % BLK_RING_SIZE) * 16;
  rsp_cons++;
  return *(s16 *)(r + 10);
}

static void serve(const char *id) {
  char fe[96], be[128], path[192], val[64];
  join(fe, "device/vbd/", id);
  join(path, fe, "/backend");
  if (xs_read(path, be, sizeof be) <= 0) return;
  join(path, be, "/state");
  xs_request(XS_WATCH, path, "be", 1);
  int bs = wait_be(be, 2, 4);
  if (bs < 2 || bs > 4) return;
  for (int i = 0; i < 4096; i++) blk_ring[i] = 0;
  S_REQ_EVENT(blk_ring) = 1;
  S_RSP_EVENT(blk_ring) = 1;
  req_prod = rsp_cons = 0;
  u32 ring_ref = grant(blk_ring, 0);
  u32 buf_ref = grant(blk_buf, 0);
  struct { u16 dom, remote; u32 port; } au = { DOMID_SELF, 0, 0 };
  if (hc2(HC_event_channel_op, 6, (u64)&au) != 0) return;
  blk_port = au.port;
  fmt_num(val, ring_ref);
  join(path, fe, "/ring-ref");
  xs_write(path, val);
  fmt_num(val, blk_port);
  join(path, fe, "/event-channel");
  xs_write(path, val);
  join(path, fe, "/protocol");
  xs_write(path, "x86_64-abi");
  join(path, fe, "/state");
  xs_write(path, "3");
  if (wait_be(be, 4, 4) != 4) return;
  xs_write(path, "4");
  char sectors[32];
  join(path, be, "/sectors");
  xs_read(path, sectors, sizeof sectors);
  puts_("blkhot: ");
  puts_(id);
  puts_(" connected, ");
  puts_(sectors);
  puts_(" sectors\n");
  flush();
  int st = read_sector((u16)parse_num(id), 0, buf_ref);
  puts_("blkhot: ");
  puts_(id);
  if (st != 0) {
    puts_(" read failed\n");
  } else {
    puts_(" sector 0: ");
    for (int i = 0; i < 32 && blk_buf[i] >= 32 && blk_buf[i] < 127; i++) putch((char)blk_buf[i]);
    puts_("\n");
  }
  flush();
  /* Connected until the toolstack sets the backend to Closing. */
  while (be_state(be) == 4) read_msg();
  join(path, fe, "/state");
  xs_write(path, "5");
  xs_write(path, "6");
  puts_("blkhot: ");
  puts_(id);
  puts_(" closed\n");
  flush();
  /* Give the grants and the channel back once the backend has let go (Closed, or gone). */
  wait_be(be, 6, 6);
  *(volatile u16 *)(gnttab_window + ring_ref * 8) = 0;
  *(volatile u16 *)(gnttab_window + buf_ref * 8) = 0;
  u32 close_port = blk_port;
  hc2(HC_event_channel_op, 3, (u64)&close_port); /* EVTCHNOP_close */
  join(path, be, "/state");
  xs_request(5 /* XS_UNWATCH */, path, "be", 1);
}

void guest_main(u8 *si) {
  cons_port = *(u32 *)(si + 80);
  cons = (volatile u8 *)(m2p[*(u64 *)(si + 72)] << 12);
  store = (volatile u8 *)(m2p[*(u64 *)(si + 56)] << 12);
  store_port = *(u32 *)(si + 64);
  p2m = *(u64 **)(si + 104);
  hc5(HC_update_va_mapping, (u64)shinfo_window, *(u64 *)(si + 40) | 0x67, 2, 0, 0);
  hc5(HC_set_callbacks, (u64)hypervisor_callback, (u64)failsafe_callback, 0, 0, 0);
  u64 frame = 0;
  struct { u16 dom; u16 pad; u32 nr_frames; s16 status; u16 pad2[3]; u64 *frame_list; } st =
      { DOMID_SELF, 0, 1, 0, {0, 0, 0}, &frame };
  if (hc3(HC_grant_table_op, 2, (u64)&st, 1) != 0 || st.status != 0) {
    puts_("blkhot: setup_table failed\n");
    flush();
    return;
  }
  hc5(HC_update_va_mapping, (u64)gnttab_window, (frame << 12) | 0x67, 2, 0, 0);
  puts_("blkhot: waiting for disks\n");
  flush();
  xs_request(XS_WATCH, "device/vbd", "vbd", 1);
  for (;;) {
    /* XS_DIRECTORY: NUL-separated children; a device is new while its state is Initialising. */
    if (xs_request(1, "device/vbd", 0, 0) == 1) {
      char list[256];
      u32 n = 0;
      for (; n + 2 < sizeof list && (reply[n] || reply[n + 1]); n++) list[n] = reply[n];
      list[n] = 0;
      list[n + 1] = 0;
      for (char *id = list; *id; id += slen(id) + 1) {
        char path[64], val[8];
        if (slen(id) > 12) continue;
        join(path, "device/vbd/", id);
        join(path + slen(path), "/state", "");
        if (xs_read(path, val, sizeof val) > 0 && val[0] == '1' && val[1] == 0) serve(id);
      }
    }
    read_msg();
  }
}
