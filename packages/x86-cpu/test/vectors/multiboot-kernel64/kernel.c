/* A freestanding multiboot kernel: exercises compiler-generated 32-bit code (calls, recursion,
 * switch tables, 64-bit arithmetic helpers inlined, string handling) and prints results on the
 * 16550 UART, then exits through isa-debug-exit. */
typedef unsigned int u32;
typedef unsigned long u64x;
typedef unsigned long long u64;

static inline void outb(unsigned short port, unsigned char v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline unsigned char inb(unsigned short port) { unsigned char v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void putc_(char c) { while ((inb(0x3fd) & 0x20) == 0) {} outb(0x3f8, (unsigned char)c); }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(u32 v) { for (int i = 28; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]); }
static void putdec(u32 v) { char b[12]; int n = 0; do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v); while (n) putc_(b[--n]); }

static u32 crc32(const unsigned char *p, u32 n) {
  u32 c = 0xffffffffu;
  for (u32 i = 0; i < n; i++) { c ^= p[i]; for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1)); }
  return ~c;
}
static u32 fib(u32 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
static int classify(int x) {
  switch (x & 7) { case 0: return 11; case 1: return 23; case 2: return 5; case 3: return 97; case 4: return 41; case 5: return 2; case 6: return 77; default: return 13; }
}
static u32 isqrt(u32 x) { u32 r = 0, b = 1u << 30; while (b > x) b >>= 2; while (b) { if (x >= r + b) { x -= r + b; r = (r >> 1) + b; } else r >>= 1; b >>= 2; } return r; }

static unsigned char buf[4096];

static u64 mix64(u64 a, u64 b) { return (a ^ (b << 13)) * 0x9e3779b97f4a7c15ull + (a >> 7); }
static u64 udiv64(u64 a, u64 b) { return a / b; }

void kmain(u32 magic, u32 *info) {
  (void)info;
  puts_("magic "); puthex(magic); puts_("\n");
  for (u32 i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 7 + (i >> 3));
  puts_("crc "); puthex(crc32(buf, sizeof buf)); puts_("\n");
  puts_("fib "); putdec(fib(24)); puts_("\n");
  int acc = 0; for (int i = -50; i < 50; i++) acc += classify(i) * i;
  puts_("switch "); puthex((u32)acc); puts_("\n");
  u64 m = 0x123456789abcdefull; u32 s = 0; for (u32 i = 0; i < 1000; i++) { m = m * 6364136223846793005ull + 1442695040888963407ull; s ^= (u32)(m >> 33); }
  puts_("lcg64 "); puthex(s); puts_("\n");
  puts_("isqrt "); putdec(isqrt(2000000000u)); puts_("\n");
  int q = -7654321; puts_("divs "); puthex((u32)(q / 37)); puthex((u32)(q % 37)); puts_("\n");
  u64 h = 1; for (u64 i = 1; i < 500; i++) h = mix64(h, i * 0x10001ull);
  puts_("mix64 "); puthex((u32)(h >> 32)); puthex((u32)h); puts_("\n");
  puts_("udiv64 "); puthex((u32)(udiv64(0xfedcba9876543210ull, 0x12345ull) >> 32)); puthex((u32)udiv64(0xfedcba9876543210ull, 0x12345ull)); puts_("\n");
  outb(0xf4, 0x10);
  for (;;) __asm__ volatile("hlt");
}
