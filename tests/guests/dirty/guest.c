/*
 * Dirty guest (64-bit PV, freestanding): a memory-dirtying workload for live migration. It
 * writes `rate` pages per millisecond of system time (command line `rate=<n>`, default 4) into a
 * 2 MiB area of its own (512 pages, round robin, one 8-byte word per page per pass), and every
 * 10 ms of its time prints
 *
 *   dirty: tick <n> <pages written so far>
 *
 * with `n` counting up by one (a migrated guest's console shows no gap). Time is Xen's: the
 * system time and TSC scaling of vcpu_time_info in its shared_info page, read with the version
 * protocol; elapsed time advances by at most 10 ms per look and never backwards, so a migration
 * to a host whose clock differs changes nothing. It never blocks (a CPU-bound guest). Built on
 * ../lib; rebuild with ./build.sh.
 */
#include "xen.h"

#define AREA_PAGES 512
static u8 area[AREA_PAGES * 4096] __attribute__((aligned(4096)));

/* vcpu_info[0].time (struct vcpu_time_info) in shared_info: offsets 32.. */
#define VT_VERSION 32
#define VT_TSC_TIMESTAMP 40
#define VT_SYSTEM_TIME 48
#define VT_MUL 56
#define VT_SHIFT 60

static inline u64 rdtsc(void) {
  u32 lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((u64)hi << 32) | lo;
}

/* Nanoseconds of system time: pvclock's formula over vcpu_info[0].time. */
static u64 now_ns(void) {
  volatile u8 *t = shinfo_window;
  for (;;) {
    u32 v = *(volatile u32 *)(t + VT_VERSION);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    u64 stamp = *(volatile u64 *)(t + VT_TSC_TIMESTAMP);
    u64 sys = *(volatile u64 *)(t + VT_SYSTEM_TIME);
    u32 mul = *(volatile u32 *)(t + VT_MUL);
    signed char shift = *(volatile signed char *)(t + VT_SHIFT);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if ((v & 1) != 0 || v != *(volatile u32 *)(t + VT_VERSION)) continue;
    u64 delta = rdtsc() - stamp;
    if (shift < 0) delta >>= -shift;
    else delta <<= shift;
    return sys + (u64)(((unsigned __int128)delta * mul) >> 32);
  }
}

static u64 cmdline_num(const u8 *si, const char *key, u64 dflt) {
  const char *cmd = (const char *)(si + SI_CMD_LINE);
  for (int i = 0; cmd[i]; i++)
    if (sprefix(cmd + i, key)) return parse_num(cmd + i + slen(key));
  return dflt;
}

void guest_main(u8 *si) {
  xen_start(si);
  u64 rate = cmdline_num(si, "rate=", 4);
  printk("dirty: %u pages per ms over %u pages\n", rate, (u64)AREA_PAGES);
  flush();
  u64 last = now_ns();
  u64 elapsed = 0;
  u64 written = 0;
  u64 tick = 0;
  for (;;) {
    /* Elapsed time in steps of at most 10 ms: a migration to another host can move system time
       backwards or far forwards; the workload goes on at its rate either way. */
    u64 now = now_ns();
    u64 step = now - last;
    if ((s64)step < 0) step = 0;
    if (step > 10000000) step = 10000000;
    elapsed += step;
    last = now;
    u64 ms = elapsed / 1000000;
    u64 want = ms * rate;
    while (written < want) {
      u64 page = written % AREA_PAGES;
      u64 word = (written / AREA_PAGES) % 512;
      *(volatile u64 *)(area + page * 4096 + word * 8) = written + 1;
      written++;
    }
    if (ms >= (tick + 1) * 10) {
      tick++;
      printk("dirty: tick %u %u\n", tick, written);
      flush();
    }
  }
}
