/* The guest's grant table (v1 entries: u16 flags, u16 domid, u32 frame), one frame. */
#include "xen.h"

static u8 gnttab_window[4096] __attribute__((aligned(4096)));
static u32 next_ref = 8; /* 0-7 are reserved (console, xenstore) */

int gnttab_init(void) {
  u64 frame = 0;
  struct { u16 dom; u16 pad; u32 nr_frames; s16 status; u16 pad2[3]; u64 *frame_list; } st =
      { DOMID_SELF, 0, 1, 0, {0, 0, 0}, &frame };
  if (hc3(HC_grant_table_op, 2 /* GNTTABOP_setup_table */, (u64)&st, 1) != 0 || st.status != 0)
    return -1;
  hc5(HC_update_va_mapping, (u64)gnttab_window, (frame << 12) | 0x67, 2, 0, 0);
  return 0;
}

u32 grant(const void *page, u16 domid) {
  u32 ref = next_ref++;
  volatile u8 *e = gnttab_window + ref * 8;
  *(volatile u16 *)(e + 2) = domid;
  *(volatile u32 *)(e + 4) = (u32)mfn_of(page);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  *(volatile u16 *)e = 1; /* GTF_permit_access */
  return ref;
}

void ungrant(u32 ref) { *(volatile u16 *)(gnttab_window + ref * 8) = 0; }
