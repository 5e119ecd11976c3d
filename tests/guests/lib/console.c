/* The PV console ring (struct xencons_interface: out[2048] at 1024, out_cons/out_prod at 3080). */
#include "xen.h"

static volatile u8 *cons;
static u32 cons_port;

void console_init(u8 *si) {
  cons_port = SI_U32(si, SI_CONSOLE_EVTCHN);
  cons = (volatile u8 *)(M2P[SI_U64(si, SI_CONSOLE_MFN)] << 12);
}

void putch(char c) {
  volatile u32 *out_cons = (volatile u32 *)(cons + 3080);
  volatile u32 *out_prod = (volatile u32 *)(cons + 3084);
  while (*out_prod - *out_cons >= 2048) yield();
  cons[1024 + (*out_prod & 2047)] = (u8)c;
  asm volatile("" ::: "memory");
  *out_prod = *out_prod + 1;
}

void puts_(const char *s) { while (*s) putch(*s++); }

static void putu(u64 u, u32 base) {
  char buf[24];
  int i = 0;
  do { buf[i++] = "0123456789abcdef"[u % base]; u /= base; } while (u);
  while (i) putch(buf[--i]);
}

void putnum(s64 v) {
  if (v < 0) putch('-');
  putu(v < 0 ? (u64)(-v) : (u64)v, 10);
}

void flush(void) { send(cons_port); }

void flush_sync(void) {
  flush();
  volatile u32 *out_cons = (volatile u32 *)(cons + 3080);
  volatile u32 *out_prod = (volatile u32 *)(cons + 3084);
  while (*out_cons != *out_prod) yield();
}

void printk(const char *fmt, ...) {
  __builtin_va_list ap;
  __builtin_va_start(ap, fmt);
  for (const char *p = fmt; *p; p++) {
    if (*p != '%' || !p[1]) { putch(*p); continue; }
    switch (*++p) {
      case 's': puts_(__builtin_va_arg(ap, const char *)); break;
      case 'd': putnum(__builtin_va_arg(ap, s64)); break;
      case 'u': putu(__builtin_va_arg(ap, u64), 10); break;
      case 'x': putu(__builtin_va_arg(ap, u64), 16); break;
      case 'c': putch((char)__builtin_va_arg(ap, int)); break;
      default: putch(*p); break;
    }
  }
  __builtin_va_end(ap);
}
