import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bare } from '../src/cli/commands/bare.ts';
import type { CliIo } from '../src/index.ts';
import { runCli } from '../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'typevisor-bare-'));

function capture(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    env: {},
    cwd: dir,
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
  };
  return io;
}

/** 32-bit guest code: print "OK\n" on the UART, then write 0x10 to isa-debug-exit. */
const GUEST32 = [
  0x3d,
  0x02,
  0xb0,
  0xad,
  0x2b, // cmp eax, 0x2badb002 (the multiboot loader magic)
  0x75,
  0x12, // jne bad
  0xba,
  0xf8,
  0x03,
  0x00,
  0x00, // mov edx, 0x3f8
  0xb0,
  0x4f,
  0xee, // mov al, 'O'; out dx, al
  0xb0,
  0x4b,
  0xee, // mov al, 'K'; out dx, al
  0xb0,
  0x0a,
  0xee, // mov al, '\n'; out dx, al
  0xb0,
  0x10,
  0xe6,
  0xf4, // mov al, 0x10; out 0xf4, al
  0xb0,
  0x01,
  0xe6,
  0xf4, // bad: mov al, 1; out 0xf4, al
];

/** A minimal multiboot ELF32: one PT_LOAD at 1 MiB holding the header and the code. */
function multibootElf(): Uint8Array {
  const load = 0x100000;
  const codeOff = 0x1000;
  const body = [...u32(0x1badb002), ...u32(0), ...u32(-0x1badb002 >>> 0), ...GUEST32];
  const file = new Uint8Array(codeOff + body.length);
  const dv = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 3, true); // EM_386
  dv.setUint32(20, 1, true);
  dv.setUint32(24, load + 12, true); // entry after the multiboot header
  dv.setUint32(28, 52, true); // phoff
  dv.setUint16(40, 52, true);
  dv.setUint16(42, 32, true);
  dv.setUint16(44, 1, true);
  dv.setUint32(52, 1, true); // PT_LOAD
  dv.setUint32(56, codeOff, true);
  dv.setUint32(60, load, true);
  dv.setUint32(64, load, true);
  dv.setUint32(68, body.length, true);
  dv.setUint32(72, body.length + 0x100, true);
  dv.setUint32(76, 5, true);
  file.set(body, codeOff);
  return file;
}

function u32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

function write(name: string, data: Uint8Array): string {
  writeFileSync(join(dir, name), data);
  return name;
}

describe('typevisor bare', () => {
  it('boots a multiboot ELF kernel: UART output on stdout, isa-debug-exit status (v<<1)|1', async () => {
    const io = capture();
    const status = await bare.run(['--multiboot', write('k.elf', multibootElf()), '--stats'], io);
    expect(io.out).toBe('OK\n');
    expect(status).toBe(0x21);
    expect(io.err).toMatch(/instructions: 1\d\n/);
  });

  it('runs a boot sector in real mode at 0x7C00', async () => {
    const sector = new Uint8Array(512);
    // mov dx, 0x3f8; mov al, 'B'; out dx, al; mov al, 3; out 0xf4, al
    sector.set([0xba, 0xf8, 0x03, 0xb0, 0x42, 0xee, 0xb0, 0x03, 0xe6, 0xf4]);
    sector[510] = 0x55;
    sector[511] = 0xaa;
    const io = capture();
    expect(await bare.run(['--boot-sector', write('boot.bin', sector)], io)).toBe(7);
    expect(io.out).toBe('B');
  });

  it('starts a ROM at the reset vector F000:FFF0 mapped at the top of 4 GiB', async () => {
    const rom = new Uint8Array(64 * 1024).fill(0xf4);
    // At 0xFFF0: jmp 0xF000:0x0000 ; at 0x0000: print 'R', exit 5.
    rom.set([0xea, 0x00, 0x00, 0x00, 0xf0], 0xfff0);
    rom.set([0xba, 0xf8, 0x03, 0xb0, 0x52, 0xee, 0xb0, 0x05, 0xe6, 0xf4], 0);
    const io = capture();
    expect(await bare.run(['--rom', write('bios.bin', rom)], io)).toBe(11);
    expect(io.out).toBe('R');
  });

  it('--trace prints disassembly and --max-instructions stops a runaway guest', async () => {
    const sector = new Uint8Array(512);
    sector.set([0xeb, 0xfe]); // jmp $
    sector[510] = 0x55;
    sector[511] = 0xaa;
    const io = capture();
    expect(
      await bare.run(
        ['--boot-sector', write('loop.bin', sector), '--trace', '--max-instructions', '3'],
        io,
      ),
    ).toBe(1);
    expect(io.err).toContain('0x7c00: jmp 0x7c00');
    expect(io.err).toContain('stopped after 3 instructions');
  });

  it('malformed images give one clear error line, never a stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--multiboot', write('junk.bin', Uint8Array.of(1, 2, 3))],
        /junk\.bin: no multiboot header \(magic 0x1BADB002 with a valid checksum\)/,
      ],
      [
        ['--multiboot', write('nomb.elf', multibootElf().fill(0, 0x1000, 0x100c))],
        /no multiboot header/,
      ],
      [['--boot-sector', write('short.bin', new Uint8Array(100))], /exactly 512 bytes/],
      [['--rom', write('odd.rom', new Uint8Array(1000))], /2 KiB multiples/],
      [['--multiboot', 'missing.elf'], /cannot read missing\.elf/],
      [['--boot-sector', 'a', '--rom', 'b'], /exactly one of/],
    ];
    for (const [args, message] of cases) {
      const io = capture();
      const status = await runCli(['bare', ...args], io, [bare]);
      expect(status).toBeGreaterThan(0);
      expect(io.err).toMatch(message);
      expect(io.err.split('\n').filter((l) => l !== '').length).toBe(1);
    }
  });
});

describe('typevisor bare with flat multiboot images (a.out kludge)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tv-bare-flat-'));
  // A multiboot header with flag 16 and load addresses, then: mov dx,0x3f8; mov al,'K'; out dx,al;
  // mov dx,0xf4; mov al,1; out dx,al (isa-debug-exit 1 -> status 3).
  const flat = (patch?: (dv: DataView) => void): string => {
    const img = new Uint8Array(64);
    const dv = new DataView(img.buffer);
    const magic = 0x1badb002;
    const flags = 0x00010000;
    dv.setUint32(0, magic, true);
    dv.setUint32(4, flags, true);
    dv.setUint32(8, -(magic + flags) >>> 0, true);
    dv.setUint32(12, 0x100000, true); // header_addr
    dv.setUint32(16, 0x100000, true); // load_addr
    dv.setUint32(20, 0, true); // load_end_addr: whole file
    dv.setUint32(24, 0x101000, true); // bss_end_addr
    dv.setUint32(28, 0x100020, true); // entry_addr
    img.set(
      [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x4b, 0xee, 0x66, 0xba, 0xf4, 0x00, 0xb0, 0x01, 0xee, 0xf4],
      32,
    );
    patch?.(dv);
    const path = join(dir, `flat-${Math.random().toString(36).slice(2)}.bin`);
    writeFileSync(path, img);
    return path;
  };

  it('loads the image at load_addr and enters at entry_addr', async () => {
    const io = capture();
    const status = await runCli(['bare', '--multiboot', flat()], io, [bare]);
    expect(io.out).toBe('K');
    expect(status).toBe(3);
  });

  it('refuses load ranges outside the file or an entry outside the image', async () => {
    const io = capture();
    expect(
      await runCli(['bare', '--multiboot', flat((dv) => dv.setUint32(20, 0x200000, true))], io, [
        bare,
      ]),
    ).toBeGreaterThan(0);
    expect(io.err).toMatch(/multiboot load range extends past the end of the file\n$/);
    const io2 = capture();
    expect(
      await runCli(['bare', '--multiboot', flat((dv) => dv.setUint32(28, 0x900000, true))], io2, [
        bare,
      ]),
    ).toBeGreaterThan(0);
    expect(io2.err).toMatch(/multiboot entry_addr is outside the loaded image\n$/);
  });
});
