/**
 * Runs a batch of cases on QEMU: writes the case records as nasm source, assembles them into
 * harness.asm (a multiboot v1 ELF32 image), boots it with `qemu-system-x86_64 -kernel`, and
 * parses the binary records the harness writes to the debugcon port.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CpuState, gprBits, gprCount, hex, WINDOW_SIZE } from './machine.ts';
import type { Mode } from './table.ts';

/** What a case needs to run: its instruction line and initial state. */
export interface BatchCase {
  /** nasm source line of the instruction. */
  asm: string;
  /** Initial state. */
  init: CpuState;
}

/** What happened when a case ran. */
export type Outcome =
  | { kind: 'state'; state: CpuState }
  | { kind: 'exception'; vector: number; errorCode?: number };

/** One case's result: the bytes nasm assembled and what the CPU did. */
export interface CaseResult {
  /** The instruction's bytes as assembled by nasm. */
  bytes: Uint8Array;
  /** Final state or exception. */
  outcome: Outcome;
}

/** Which QEMU accelerator runs the batch. */
export type Accel = 'tcg' | 'kvm';

/** Batch options. */
export interface RunOptions {
  /** `tcg` (the reference) or `kvm` (the host CPU, for cross-checking TCG). */
  accel?: Accel;
  /** Kill QEMU after this many milliseconds. */
  timeoutMs?: number;
}

const HARNESS = fileURLToPath(new URL('./harness.asm', import.meta.url));
/** The image is loaded here and must end below the harness's output buffer (harness.asm). */
const LOAD_ADDR = 0x100000;
const OUTBUF = 0x1e0000;
/** Cases per QEMU run: 64-bit records are 216 bytes, so 2000 keep the image far below OUTBUF. */
export const MAX_BATCH = 2000;
const LINES_PER_CASE = 6;

/** The QEMU command line used for a batch (documented in vectors/README.md). */
export function qemuArgs(image: string, debugcon: string, accel: Accel): string[] {
  return [
    '-accel',
    accel,
    '-cpu',
    accel === 'tcg' ? 'max' : 'host,-arch-capabilities',
    '-nographic',
    '-no-reboot',
    '-m',
    '64',
    '-display',
    'none',
    '-kernel',
    image,
    '-debugcon',
    `file:${debugcon}`,
    '-global',
    'isa-debugcon.iobase=0xe9',
    '-device',
    'isa-debug-exit,iobase=0xf4,iosize=0x04',
  ];
}

function run(
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, maxBuffer: 64 << 20 },
      (error, _stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stderr: String(stderr) });
      },
    );
  });
}

/** nasm source for the case records (layout: see harness.asm, "case-record layout"). */
export function casesSource(mode: Mode, cases: readonly BatchCase[]): string {
  const word = mode === 64 ? 'dq' : 'dd';
  const digits = gprBits(mode) / 4;
  const lines: string[] = [];
  cases.forEach((c, i) => {
    if (c.asm.includes('\n') || c.asm.includes(';')) throw new Error(`case ${i}: bad asm ${c.asm}`);
    lines.push(`c${i}: db .e - .s`);
    lines.push(`.s: ${c.asm}`);
    lines.push('.e: times 15 - (.e - .s) db 0x90');
    lines.push(`${word} ${c.init.regs.map((r) => `0x${hex(r, digits)}`).join(', ')}`);
    lines.push(`${word} 0x${hex(c.init.rflags, digits)}`);
    lines.push(`db ${Array.from(c.init.mem, (b) => `0x${b.toString(16)}`).join(', ')}`);
  });
  return `${lines.join('\n')}\n`;
}

/**
 * Runs cases on QEMU, in chunks of at most MAX_BATCH per boot; throws with a clear message if
 * nasm or QEMU misbehave.
 */
export async function runBatch(
  mode: Mode,
  cases: readonly BatchCase[],
  options: RunOptions = {},
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (let start = 0; start < cases.length; start += MAX_BATCH) {
    results.push(...(await runChunk(mode, cases.slice(start, start + MAX_BATCH), options)));
  }
  return results;
}

async function runChunk(
  mode: Mode,
  cases: readonly BatchCase[],
  options: RunOptions,
): Promise<CaseResult[]> {
  const accel = options.accel ?? 'tcg';
  const dir = await mkdtemp(join(tmpdir(), 'x86-reference-'));
  try {
    const source = join(dir, 'cases.inc');
    const image = join(dir, 'image.elf');
    const debugcon = join(dir, 'debugcon.bin');
    await writeFile(source, casesSource(mode, cases));
    const nasm = await run(
      'nasm',
      ['-f', 'bin', `-DMODE=${mode}`, `-DCASES="${source}"`, '-o', image, HARNESS],
      120_000,
    );
    if (nasm.code !== 0) {
      const detail = nasm.stderr
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(0, 10)
        .map((l) => {
          const m = /cases\.inc:(\d+):/.exec(l);
          const index = m ? Math.floor((Number(m[1]) - 1) / LINES_PER_CASE) : -1;
          return index >= 0 ? `${l}\n    case ${index}: ${cases[index]?.asm}` : l;
        });
      throw new Error(`nasm failed (mode ${mode}):\n${detail.join('\n')}`);
    }
    const imageBytes = new Uint8Array(await readFile(image));
    if (LOAD_ADDR + imageBytes.length > OUTBUF) {
      throw new Error(`image of ${imageBytes.length} bytes overlaps the harness buffers`);
    }
    const qemu = await run(
      'qemu-system-x86_64',
      qemuArgs(image, debugcon, accel),
      options.timeoutMs ?? 120_000,
    );
    // isa-debug-exit: the harness writes 0, QEMU exits with (0 << 1) | 1
    if (qemu.code !== 1) {
      throw new Error(`qemu (${accel}) exited with ${qemu.code}: ${qemu.stderr.trim()}`);
    }
    const output = new Uint8Array(await readFile(debugcon));
    return parse(mode, cases.length, imageBytes, output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function parse(mode: Mode, count: number, image: Uint8Array, output: Uint8Array): CaseResult[] {
  const w = gprBits(mode) / 8;
  const n = gprCount(mode);
  const recLen = 16 + (n + 1) * w + WINDOW_SIZE;
  const casesStart = image.length - count * recLen;
  const view = new DataView(output.buffer, output.byteOffset, output.byteLength);
  const word = (at: number): bigint =>
    w === 8 ? view.getBigUint64(at, true) : BigInt(view.getUint32(at, true));
  const tag = (at: number): string => String.fromCharCode(...output.subarray(at, at + 4));
  const results: CaseResult[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const rec = casesStart + i * recLen;
    const len = image[rec] ?? 0;
    const bytes = image.slice(rec + 1, rec + 1 + len);
    if (at + 8 > output.length) throw new Error(`harness output ends before case ${i}`);
    const kind = tag(at);
    const index = view.getUint32(at + 4, true);
    if (index !== i)
      throw new Error(`harness output out of step: expected case ${i}, got ${index}`);
    if (kind === 'CASE') {
      const regs: bigint[] = [];
      for (let r = 0; r < n; r++) regs.push(word(at + 8 + r * w));
      const rflags = word(at + 8 + n * w);
      const memAt = at + 8 + (n + 1) * w;
      const mem = output.slice(memAt, memAt + WINDOW_SIZE);
      results.push({ bytes, outcome: { kind: 'state', state: { regs, rflags, mem } } });
      at = memAt + WINDOW_SIZE;
    } else if (kind === 'EXCP') {
      const vector = view.getUint32(at + 8, true);
      const error = view.getUint32(at + 12, true);
      results.push({
        bytes,
        outcome:
          error === 0xffffffff
            ? { kind: 'exception', vector }
            : { kind: 'exception', vector, errorCode: error },
      });
      at += 16;
    } else {
      throw new Error(`unknown harness record ${JSON.stringify(kind)} at byte ${at}`);
    }
  }
  if (tag(at) + tag(at + 4) !== 'DONEDONE') throw new Error('harness output lacks its end marker');
  return results;
}
