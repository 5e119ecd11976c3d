import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CpuOptions, EXIT, FlatRam, X86Cpu } from '../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'x86-cpu-test-'));
let counter = 0;

/** Assembles `source` with nasm (flat binary) at origin `org`. */
export function asm(source: string, bits: 16 | 32 | 64, org: number): Uint8Array {
  const n = counter++;
  const src = join(dir, `t${n}.asm`);
  const out = join(dir, `t${n}.bin`);
  writeFileSync(src, `bits ${bits}\norg 0x${org.toString(16)}\n${source}\n`);
  execFileSync('nasm', ['-f', 'bin', '-o', out, src]);
  return new Uint8Array(readFileSync(out));
}

export const CODE = 0x1000;
export const STACK_TOP = 0x9000;
export const PML4 = 0x70000;

export type Mode = 'real' | 'prot32' | 'long64';

/** Builds identity-mapped 4-level tables (2 MiB pages) for the first 1 GiB. */
export function identityMap64(ram: FlatRam): void {
  ram.write32(PML4, 0x71000 | 7);
  ram.write32(0x71000, 0x72000 | 7);
  for (let i = 0; i < 512; i++) {
    ram.write32(0x72000 + i * 8, (((i * 0x200000) | 0x87) >>> 0) | 0);
    ram.write32(0x72000 + i * 8 + 4, 0);
  }
}

/** Sets a flat segment cache directly (no GDT needed). */
export function flatSeg(cpu: X86Cpu, seg: number, sel: number, attr: number): void {
  cpu.segSel[seg] = sel;
  cpu.segBase[seg] = 0;
  cpu.segLimit[seg] = -1;
  cpu.segAttr[seg] = attr;
}

/** A CPU in `mode` with `code` at CODE and a stack below STACK_TOP. */
export function setup(
  mode: Mode,
  code: Uint8Array,
  opts: Partial<CpuOptions> = {},
  ramSize = 1 << 21,
): { cpu: X86Cpu; ram: FlatRam } {
  const ram = opts.memory instanceof FlatRam ? opts.memory : new FlatRam(ramSize);
  ram.load(CODE, code);
  const cpu = X86Cpu.create({ memory: ram, ...opts });
  if (mode === 'real') {
    cpu.segSel[1] = 0;
    cpu.segBase[1] = 0;
    cpu.rip = CODE;
    cpu.lo[4] = STACK_TOP;
  } else if (mode === 'prot32') {
    cpu.cr0 |= 1;
    for (const s of [0, 2, 3, 4, 5]) flatSeg(cpu, s, 0x10, 0xc093);
    flatSeg(cpu, 1, 0x08, 0xc09b);
    cpu.rip = CODE;
    cpu.lo[4] = STACK_TOP;
  } else {
    identityMap64(ram);
    cpu.cr4 = 0x20;
    cpu.cr3 = PML4;
    cpu.efer = 0x500 | 0x800 | 1;
    cpu.cr0 = 0x80000011 | 0;
    for (const s of [0, 2, 3, 4, 5]) flatSeg(cpu, s, 0x10, 0xc093);
    flatSeg(cpu, 1, 0x08, 0xa09b);
    cpu.rip = CODE;
    cpu.lo[4] = STACK_TOP;
  }
  cpu.updateMode();
  cpu.flushTlb();
  return { cpu, ram };
}

/** Runs until HLT (asserting no other exit) and returns the CPU. */
export function runToHlt(cpu: X86Cpu, budget = 1_000_000): X86Cpu {
  const r = cpu.run(budget);
  if (r !== EXIT.HLT) {
    throw new Error(
      `expected HLT, got exit ${r} at rip=0x${cpu.rip.toString(16)} vector=${cpu.exit.vector}`,
    );
  }
  return cpu;
}

/** Assembles and runs `source` (ending in hlt) in `mode`. */
export function exec(
  mode: Mode,
  source: string,
  opts: Partial<CpuOptions> = {},
): { cpu: X86Cpu; ram: FlatRam } {
  const bits = mode === 'real' ? 16 : mode === 'prot32' ? 32 : 64;
  const env = setup(mode, asm(`${source}\nhlt`, bits, CODE), opts);
  runToHlt(env.cpu);
  return env;
}

export const CF = 1;
export const PF = 4;
export const AF = 0x10;
export const ZF = 0x40;
export const SF = 0x80;
export const OF = 0x800;
export const ARITH = CF | PF | AF | ZF | SF | OF;
