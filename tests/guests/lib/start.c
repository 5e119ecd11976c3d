/* Start of day and event waiting for the test guests (see xen.h). */
#include "xen.h"

u8 shinfo_window[4096] __attribute__((aligned(4096)));
u64 *p2m;
int events_spin;

s64 map_shared_info(u8 *si) {
  return hc5(HC_update_va_mapping, (u64)shinfo_window, SI_U64(si, SI_SHARED_INFO) | 0x67, 2, 0, 0);
}

void xen_start(u8 *si) {
  console_init(si);
  xs_init(si, 0);
  p2m = *(u64 **)(si + SI_MFN_LIST);
  map_shared_info(si);
  hc5(HC_set_callbacks, (u64)hypervisor_callback, (u64)failsafe_callback, 0, 0, 0);
}

void mask_events(void) {
  volatile u8 *vi = shinfo_window;
  vi[1] = 1; /* vcpu_info[0].evtchn_upcall_mask */
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  __atomic_store_n((volatile u64 *)(shinfo_window + 2048), 0, __ATOMIC_SEQ_CST); /* ports 0-63 */
  __atomic_store_n((volatile u64 *)(shinfo_window + 8), 0, __ATOMIC_SEQ_CST);    /* pending_sel */
}

/*
 * Waits for an event the way a kernel does without losing one: events are masked while the
 * pending bits are cleared and the condition is checked, then SCHEDOP_block unmasks them and
 * sleeps only if none is pending.
 */
void wait_until(int (*cond)(u64), u64 arg) {
  for (;;) {
    if (events_spin) {
      if (cond(arg)) break;
      continue;
    }
    mask_events();
    if (cond(arg)) break;
    block();
  }
}

int cmdline_has(const u8 *si, const char *word) {
  const char *cmd = (const char *)(si + SI_CMD_LINE);
  for (int i = 0; cmd[i]; i++)
    if (sprefix(cmd + i, word)) return 1;
  return 0;
}
