/* Freestanding string and number helpers for the test guests. */
#include "xen.h"

u32 slen(const char *s) { u32 n = 0; while (s[n]) n++; return n; }
void scopy(char *d, const char *s) { while ((*d++ = *s++)) {} }
int sprefix(const char *s, const char *p) { while (*p) if (*s++ != *p++) return 0; return 1; }
void join(char *out, const char *a, const char *b) { scopy(out, a); scopy(out + slen(a), b); }

void fmt_num(char *out, u64 v) {
  char buf[24];
  int i = 0;
  do { buf[i++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (i) *out++ = buf[--i];
  *out = 0;
}

u64 parse_num(const char *s) {
  u64 v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (u64)(*s++ - '0');
  return v;
}

void *memset_(void *p, int c, u64 n) { u8 *d = p; while (n--) *d++ = (u8)c; return p; }
