/* A xenstore ring client (struct xenstore_domain_interface: req[1024], rsp[1024], indexes). */
#include "xen.h"

static volatile u8 *store;
static u32 store_port;
static void (*xs_wait)(int (*cond)(u64), u64 arg);
static u32 next_req_id = 1;
char xs_reply[4096];
u32 xs_reply_len;
int xs_watch_fired;

#define REQ_CONS (*(volatile u32 *)(store + 2048))
#define REQ_PROD (*(volatile u32 *)(store + 2052))
#define RSP_CONS (*(volatile u32 *)(store + 2056))
#define RSP_PROD (*(volatile u32 *)(store + 2060))

struct xsd_msg { u32 type, req_id, tx_id, len; };

void xs_init(u8 *si, void (*wait)(int (*cond)(u64), u64 arg)) {
  store = (volatile u8 *)(M2P[SI_U64(si, SI_STORE_MFN)] << 12);
  store_port = SI_U32(si, SI_STORE_EVTCHN);
  xs_wait = wait ? wait : wait_until;
}

static void ring_write(const void *data, u32 len) {
  const u8 *d = data;
  for (u32 i = 0; i < len; i++) {
    while (REQ_PROD - REQ_CONS >= 1024) { send(store_port); yield(); }
    store[REQ_PROD & 1023] = d[i];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    REQ_PROD = REQ_PROD + 1;
  }
}

static int rsp_ready(u64 unused) { (void)unused; return RSP_PROD != RSP_CONS; }

/* Waits until `n` response bytes are available, then copies them. */
static void ring_read(void *dst, u32 n) {
  u8 *d = dst;
  for (u32 i = 0; i < n; i++) {
    xs_wait(rsp_ready, 0);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    d[i] = store[1024 + (RSP_CONS & 1023)];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    RSP_CONS = RSP_CONS + 1;
  }
  send(store_port);
}

u32 xs_read_msg(void) {
  struct xsd_msg h;
  ring_read(&h, sizeof h);
  u32 keep = h.len < sizeof xs_reply - 1 ? h.len : sizeof xs_reply - 1;
  ring_read(xs_reply, keep);
  for (u32 i = keep; i < h.len; i++) { char c; ring_read(&c, 1); }
  xs_reply[keep] = 0;
  xs_reply_len = keep;
  if (h.type == XS_WATCH_EVENT) xs_watch_fired = 1;
  return h.type;
}

u32 xs_request(u32 type, const char *a, const char *b, int b_nul) {
  u32 blen = b ? slen(b) + (b_nul ? 1 : 0) : 0;
  struct xsd_msg h = { type, next_req_id++, 0, slen(a) + 1 + blen };
  ring_write(&h, sizeof h);
  ring_write(a, slen(a) + 1);
  if (b) ring_write(b, blen);
  send(store_port);
  for (;;) {
    u32 t = xs_read_msg();
    if (t != XS_WATCH_EVENT) return t;
  }
}

int xs_read(const char *path, char *out, u32 max) {
  if (xs_request(XS_READ, path, 0, 0) != XS_READ) return -1;
  u32 i = 0;
  for (; xs_reply[i] && i + 1 < max; i++) out[i] = xs_reply[i];
  out[i] = 0;
  return (int)i;
}

void xs_write(const char *path, const char *value) { xs_request(XS_WRITE, path, value, 0); }
