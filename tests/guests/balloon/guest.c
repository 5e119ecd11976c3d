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
 * balloons 4 MiB down and back up once after the first target. Built on ../lib (console,
 * xenstore ring, start of day); rebuild with ./build.sh.
 */
#include "xen.h"

#define XENMEM_decrease_reservation 1
#define XENMEM_current_reservation 3
#define XENMEM_populate_physmap 6
#define INVALID_P2M (~0UL)

static u64 nr_pages;
static u64 floor_pfn;
/* Command line "selftest": after the first target, balloon 4 MiB down and back up once. */
static int selftest;

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
  if (refused) printk("balloon: populate_physmap refused at current=%d KiB\n", cur * 4);
  else printk("balloon: target=%d KiB current=%d KiB\n", target_kib, cur * 4);
  flush();
}

void guest_main(u8 *si) {
  xen_start(si);
  nr_pages = SI_U64(si, SI_NR_PAGES);
  u64 pt_end = SI_U64(si, SI_PT_BASE) + SI_U64(si, SI_NR_PT_FRAMES) * 4096;
  floor_pfn = ((pt_end + 0x80000 + 0x3fffff) & ~0x3fffffUL) >> 12;
  /* Command line "busy": spin on the ring instead of blocking (a CPU-bound guest for scheduler tests). */
  events_spin = cmdline_has(si, "busy");
  selftest = cmdline_has(si, "self");
  printk("%sballoon: start pages=%u floor=%u\n", events_spin ? "balloon: busy\n" : "", nr_pages, floor_pfn);
  flush();
  /* Registering a watch fires it once, so the first target is read at once. */
  if (xs_request(XS_WATCH, "memory/target", "balloon", 1) == XS_ERROR) {
    printk("balloon: watch failed: %s\n", xs_reply);
    flush();
  }
  for (;;) {
    if (xs_watch_fired) {
      xs_watch_fired = 0;
      if (xs_request(XS_READ, "memory/target", 0, 0) == XS_READ) {
        s64 kib = (s64)parse_num(xs_reply);
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
    xs_read_msg(); /* blocks in SCHEDOP_block until the next watch event */
  }
}
