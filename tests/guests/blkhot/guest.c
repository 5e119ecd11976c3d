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
 * "blkhot: <devid> closed". Built on ../lib (console, xenstore ring, grant table, start of
 * day); rebuild with ./build.sh.
 */
#include "xen.h"

/* ---- blkif ring: 64-byte shared ring header, 112-byte requests, 16-byte responses ---- */
#define BLK_RING_SIZE 32
static u8 blk_ring[4096] __attribute__((aligned(4096)));
static u8 blk_buf[4096] __attribute__((aligned(4096)));
static u32 blk_port;
static u32 req_prod, rsp_cons;

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
    xs_read_msg();
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
  sring_init(blk_ring);
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
  printk("blkhot: %s connected, %s sectors\n", id, sectors);
  flush();
  int st = read_sector((u16)parse_num(id), 0, buf_ref);
  if (st != 0) {
    printk("blkhot: %s read failed\n", id);
  } else {
    printk("blkhot: %s sector 0: ", id);
    for (int i = 0; i < 32 && blk_buf[i] >= 32 && blk_buf[i] < 127; i++) putch((char)blk_buf[i]);
    puts_("\n");
  }
  flush();
  /* Connected until the toolstack sets the backend to Closing. */
  while (be_state(be) == 4) xs_read_msg();
  join(path, fe, "/state");
  xs_write(path, "5");
  xs_write(path, "6");
  printk("blkhot: %s closed\n", id);
  flush();
  /* Give the grants and the channel back once the backend has let go (Closed, or gone). */
  wait_be(be, 6, 6);
  ungrant(ring_ref);
  ungrant(buf_ref);
  u32 close_port = blk_port;
  hc2(HC_event_channel_op, 3, (u64)&close_port); /* EVTCHNOP_close */
  join(path, be, "/state");
  xs_request(XS_UNWATCH, path, "be", 1);
}

void guest_main(u8 *si) {
  xen_start(si);
  if (gnttab_init() != 0) {
    puts_("blkhot: setup_table failed\n");
    flush();
    return;
  }
  puts_("blkhot: waiting for disks\n");
  flush();
  xs_request(XS_WATCH, "device/vbd", "vbd", 1);
  for (;;) {
    /* XS_DIRECTORY: NUL-separated children; a device is new while its state is Initialising. */
    if (xs_request(XS_DIRECTORY, "device/vbd", 0, 0) == XS_DIRECTORY) {
      char list[256];
      u32 n = 0;
      for (; n + 2 < sizeof list && (xs_reply[n] || xs_reply[n + 1]); n++) list[n] = xs_reply[n];
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
    xs_read_msg();
  }
}
