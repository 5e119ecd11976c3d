/*
 * The test guests' support library: types, Xen ABI constants, hypercall wrappers and the
 * library's functions (head.S, start.c, console.c, xenstore.c, gnttab.c, string.c). Freestanding
 * 64-bit PV; see ./README.md.
 */
#ifndef TV_GUEST_XEN_H
#define TV_GUEST_XEN_H

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef long s64;
typedef short s16;

/* ---- hypercall numbers (xen/include/public/xen.h) ---- */
#define HC_set_callbacks 4
#define HC_memory_op 12
#define HC_update_va_mapping 14
#define HC_xen_version 17
#define HC_grant_table_op 20
#define HC_vcpu_op 24
#define HC_set_segment_base 25
#define HC_sched_op 29
#define HC_event_channel_op 32

#define DOMID_SELF 0x7ff0

/* ---- xenstore message types (xen/include/public/io/xs_wire.h) ---- */
#define XS_DIRECTORY 1
#define XS_READ 2
#define XS_WATCH 4
#define XS_UNWATCH 5
#define XS_WRITE 11
#define XS_WATCH_EVENT 15
#define XS_ERROR 16

/* ---- struct start_info (64-bit) field offsets ---- */
#define SI_NR_PAGES 32
#define SI_SHARED_INFO 40
#define SI_STORE_MFN 56
#define SI_STORE_EVTCHN 64
#define SI_CONSOLE_MFN 72
#define SI_CONSOLE_EVTCHN 80
#define SI_PT_BASE 88
#define SI_NR_PT_FRAMES 96
#define SI_MFN_LIST 104
#define SI_CMD_LINE 128
#define SI_U64(si, off) (*(u64 *)((si) + (off)))
#define SI_U32(si, off) (*(u32 *)((si) + (off)))

/* The read-only machine-to-phys table every 64-bit PV guest sees. */
#define M2P ((const u64 *)0xFFFF800000000000UL)

/* From head.S. */
extern char hypercall_page[];
extern char hypervisor_callback[], failsafe_callback[];

static inline s64 hc5(int nr, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5) {
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
static inline s64 hc3(int nr, u64 a1, u64 a2, u64 a3) { return hc5(nr, a1, a2, a3, 0, 0); }
static inline s64 hc2(int nr, u64 a1, u64 a2) { return hc5(nr, a1, a2, 0, 0, 0); }

/* EVTCHNOP_send. */
static inline void send(u32 port) { u32 p = port; hc2(HC_event_channel_op, 4, (u64)&p); }
/* SCHEDOP_yield. */
static inline void yield(void) { hc2(HC_sched_op, 0, 0); }
/* SCHEDOP_block: unmasks events and sleeps unless one is pending. */
static inline void block(void) { hc2(HC_sched_op, 1, 0); }

/* ---- shared rings (xen/include/public/io/ring.h): a 64-byte header, then the entries ---- */
#define S_REQ_PROD(r) (*(volatile u32 *)((r) + 0))
#define S_REQ_EVENT(r) (*(volatile u32 *)((r) + 4))
#define S_RSP_PROD(r) (*(volatile u32 *)((r) + 8))
#define S_RSP_EVENT(r) (*(volatile u32 *)((r) + 12))
/* SHARED_RING_INIT on a page: zeroed, req_event = rsp_event = 1. */
static inline void sring_init(u8 *r) {
  for (int i = 0; i < 4096; i++) r[i] = 0;
  S_REQ_EVENT(r) = 1;
  S_RSP_EVENT(r) = 1;
}

/* ---- start.c ---- */
/* The shared-info page, mapped by map_shared_info (vcpu_info[n] at n * 64, pending at 2048). */
extern u8 shinfo_window[4096];
/* The guest's P2M (start_info.mfn_list). */
extern u64 *p2m;
/* The machine frame behind a guest address (p2m is set by xen_start, or by the guest). */
static inline u64 mfn_of(const void *p) { return p2m[(u64)p >> 12]; }
/* Maps the shared-info page at shinfo_window; returns the hypercall's result. */
s64 map_shared_info(u8 *si);
/*
 * Start of day of a single-vCPU guest: p2m, console, xenstore (with the default waiter), the
 * shared-info page and the event callbacks.
 */
void xen_start(u8 *si);
/* Masks vCPU 0's events and clears every pending port (the caller then checks its rings). */
void mask_events(void);
/* With events_spin set, wait_until spins instead of blocking (a CPU-bound guest). */
extern int events_spin;
/* Waits until cond(arg) holds: checked with events masked, then SCHEDOP_block. */
void wait_until(int (*cond)(u64), u64 arg);
/* Whether the command line contains `word`. */
int cmdline_has(const u8 *si, const char *word);

/* ---- console.c (the PV console ring, struct xencons_interface) ---- */
void console_init(u8 *si);
void putch(char c);
void puts_(const char *s);
void putnum(s64 v);
/* Notifies the console backend. */
void flush(void);
/* Notifies the console backend and waits until it has read everything. */
void flush_sync(void);
/* printf-like: %s, %d (s64), %u (u64), %x (u64), %c, %%; no widths. */
void printk(const char *fmt, ...);

/* ---- xenstore.c (the xenstore ring, struct xenstore_domain_interface) ---- */
/* The last reply's payload (NUL-terminated, cut to 4095 bytes) and its length. */
extern char xs_reply[4096];
extern u32 xs_reply_len;
/* Set whenever a watch event arrives; the guest clears it. */
extern int xs_watch_fired;
/* Maps the ring; `wait` waits for a response (0: wait_until). */
void xs_init(u8 *si, void (*wait)(int (*cond)(u64), u64 arg));
/* Reads one message (waiting for it); returns its type. */
u32 xs_read_msg(void);
/* A request of `a` (with its NUL) and `b` (with its NUL when b_nul); returns the reply's type. */
u32 xs_request(u32 type, const char *a, const char *b, int b_nul);
/* Reads `path` into out (at most max - 1 bytes); returns its length or -1. */
int xs_read(const char *path, char *out, u32 max);
void xs_write(const char *path, const char *value);

/* ---- gnttab.c (grant table v1 entries: u16 flags, u16 domid, u32 frame) ---- */
/* GNTTABOP_setup_table for one frame, mapped at gnttab_window; 0 or -1. */
int gnttab_init(void);
/* Grants `page` to `domid` (GTF_permit_access); returns the reference (from 8 up). */
u32 grant(const void *page, u16 domid);
/* Ends a grant. */
void ungrant(u32 ref);

/* ---- string.c ---- */
u32 slen(const char *s);
void scopy(char *d, const char *s);
int sprefix(const char *s, const char *p);
void join(char *out, const char *a, const char *b);
void fmt_num(char *out, u64 v);
u64 parse_num(const char *s);
void *memset_(void *p, int c, u64 n);

#endif
