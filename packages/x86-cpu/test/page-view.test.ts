import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXIT, FlatRam, type PhysicalMemory, X86Cpu } from '../src/index.ts';
import { asm, flatSeg } from './helpers.ts';

// Chunked memory (the hypervisor's machine memory: 2 MiB chunks allocated on first write) has
// no `bytes` view; its port's optional `pageView` hands the CPU's TLB the chunk holding a page,
// so loads and stores hit it directly (cpu.ts `fillPageView`, DESIGN.md "Hot loop", round 5).
// The CPU must behave exactly as over flat RAM or the port's methods, ask for a store view only
// on a write walk's fill, and never make a never-written chunk exist by reading it.

const CHUNK = 0x10000;
const MEM = 4 << 20;
const PD = 0x1000;
const PT = 0x2000;
const CODE = 0x10000;
const DATA = 0x20000;
const DATA_SIZE = 0x40000;

/** RAM in lazily allocated 64 KiB chunks, read as zeros until written, with `pageView`. */
class ChunkedRam implements PhysicalMemory {
  readonly chunks: (Uint8Array | undefined)[] = new Array(MEM / CHUNK);
  /** Pages handed out for stores (the role of a dirty log), in order. */
  readonly writeViews: number[] = [];
  /** Number of `pageView` calls for loads. */
  readViews = 0;
  private readonly offerViews: boolean;

  constructor(offerViews: boolean) {
    this.offerViews = offerViews;
  }

  private chunkForWrite(pa: number): Uint8Array {
    const c = Math.floor(pa / CHUNK);
    let m = this.chunks[c];
    if (m === undefined) {
      m = new Uint8Array(CHUNK);
      this.chunks[c] = m;
    }
    return m;
  }

  isRam(pa: number): boolean {
    return pa >= 0 && pa < MEM;
  }
  read8(pa: number): number {
    return this.chunks[Math.floor(pa / CHUNK)]?.[pa % CHUNK] ?? 0;
  }
  read16(pa: number): number {
    return this.read8(pa) | (this.read8(pa + 1) << 8);
  }
  read32(pa: number): number {
    return this.read16(pa) | (this.read16(pa + 2) << 16);
  }
  write8(pa: number, v: number): void {
    if (pa >= 0 && pa < MEM) this.chunkForWrite(pa)[pa % CHUNK] = v;
  }
  write16(pa: number, v: number): void {
    this.write8(pa, v);
    this.write8(pa + 1, v >> 8);
  }
  write32(pa: number, v: number): void {
    this.write16(pa, v);
    this.write16(pa + 2, v >> 16);
  }
  pageView(pa: number, write: boolean): Uint8Array | undefined {
    if (!this.offerViews || pa < 0 || pa >= MEM) return undefined;
    if (write) {
      this.writeViews.push(Math.floor(pa / 4096));
      return this.chunkForWrite(pa);
    }
    this.readViews++;
    return this.chunks[Math.floor(pa / CHUNK)];
  }
}

/** 32-bit protected mode, paging on: the first 4 MiB identity mapped with 4 KiB pages. */
function boot(memory: PhysicalMemory, code: Uint8Array, wp = false): X86Cpu {
  memory.write32(PD, PT | 3);
  for (let i = 0; i < 1024; i++) memory.write32(PT + i * 4, (i * 4096) | 3);
  for (let i = 0; i < code.length; i++) memory.write8(CODE + i, code[i] ?? 0);
  const cpu = X86Cpu.create({ memory });
  cpu.cr3 = PD;
  cpu.cr0 = 0x80000011 | (wp ? 0x10000 : 0) | 0;
  for (const s of [0, 2, 3, 4, 5]) flatSeg(cpu, s, 0x10, 0xc093);
  flatSeg(cpu, 1, 0x08, 0xc09b);
  cpu.rip = CODE;
  cpu.lo[4] = 0x9000;
  cpu.lo[6] = DATA;
  cpu.updateMode();
  cpu.flushTlb();
  return cpu;
}

/** 64-bit mode: the first 4 MiB identity mapped with two 2 MiB pages (tables at 0x4000..0x6fff). */
function boot64(memory: PhysicalMemory, code: Uint8Array): X86Cpu {
  memory.write32(0x4000, 0x5000 | 3);
  memory.write32(0x5000, 0x6000 | 3);
  memory.write32(0x6000, 0x83);
  memory.write32(0x6008, 0x200000 | 0x83);
  for (let i = 0; i < code.length; i++) memory.write8(CODE + i, code[i] ?? 0);
  const cpu = X86Cpu.create({ memory });
  cpu.cr4 = 0x20;
  cpu.efer = 0x500;
  cpu.cr3 = 0x4000;
  cpu.cr0 = 0x80000011 | 0;
  for (const s of [0, 2, 3, 4, 5]) flatSeg(cpu, s, 0x10, 0xc093);
  flatSeg(cpu, 1, 0x08, 0xa09b);
  cpu.rip = CODE;
  cpu.lo[4] = 0x9000;
  cpu.lo[6] = DATA;
  cpu.updateMode();
  cpu.flushTlb();
  return cpu;
}

/** The 64-bit forms: qword and dword loads/stores at `[rsi + disp]`, or mixing RAX into RBX. */
function encode64(ops: readonly Op[]): Uint8Array {
  const out: number[] = [];
  for (const { kind, disp } of ops) {
    const d = le32(disp);
    if (kind === 0) out.push(0x48, 0x8b, 0x86, ...d);
    else if (kind === 1) out.push(0x48, 0x89, 0x86, ...d);
    else if (kind === 2) out.push(0x8b, 0x86, ...d);
    else if (kind === 3) out.push(0x89, 0x86, ...d);
    else if (kind === 4) out.push(0x48, 0x01, 0x86, ...d);
    else out.push(0x48, 0x01, 0xc3, 0x48, 0xc1, 0xc3, 0x05, 0x48, 0x35, ...le32(disp * 0x9e3779b1));
  }
  out.push(0xf4);
  return Uint8Array.from(out);
}

function runToHlt(cpu: X86Cpu): void {
  for (let n = 0; n < 100 && !cpu.halted; n++) {
    const r = cpu.run(100_000);
    if (r !== EXIT.HLT && r !== EXIT.BUDGET) throw new Error(`exit ${r}`);
  }
}

/** One load or store of 1, 2 or 4 bytes at `[esi + disp]`, or mixing EAX into EBX. */
interface Op {
  kind: number;
  disp: number;
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function encode(ops: readonly Op[]): Uint8Array {
  const out: number[] = [];
  for (const { kind, disp } of ops) {
    const d = le32(disp);
    switch (kind) {
      case 0:
        out.push(0x8b, 0x86, ...d);
        break; // mov eax, [esi+d]
      case 1:
        out.push(0x89, 0x86, ...d);
        break; // mov [esi+d], eax
      case 2:
        out.push(0x66, 0x8b, 0x86, ...d);
        break; // mov ax, [esi+d]
      case 3:
        out.push(0x66, 0x89, 0x86, ...d);
        break; // mov [esi+d], ax
      case 4:
        out.push(0x8a, 0x86, ...d);
        break; // mov al, [esi+d]
      case 5:
        out.push(0x88, 0x86, ...d);
        break; // mov [esi+d], al
      case 6:
        out.push(0x01, 0x86, ...d);
        break; // add [esi+d], eax
      default:
        out.push(0x01, 0xc3, 0xc1, 0xc3, 0x05, 0x35, ...le32(disp * 0x9e3779b1)); // add ebx, eax; rol ebx, 5; xor eax, imm
    }
  }
  out.push(0xf4);
  return Uint8Array.from(out);
}

function snapshot(cpu: X86Cpu, memory: PhysicalMemory): string {
  const words: number[] = [];
  for (let a = DATA; a < DATA + DATA_SIZE + 8; a += 4) words.push(memory.read32(a));
  return `${cpu.lo[0]} ${cpu.lo[3]} ${cpu.rip} ${words.join(',')}`;
}

describe('chunked memory through pageView', () => {
  it('runs random loads and stores exactly as over flat RAM and over the port methods', () => {
    // Offsets cluster at page and chunk ends so accesses straddle pages and chunks.
    const disp = fc.oneof(
      fc.integer({ min: 0, max: DATA_SIZE - 4 }),
      fc
        .tuple(fc.integer({ min: 1, max: DATA_SIZE / 4096 - 1 }), fc.integer({ min: -3, max: 3 }))
        .map(([p, d]) => p * 4096 + d),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ kind: fc.integer({ min: 0, max: 7 }), disp }), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.integer(),
        (ops, seed) => {
          const code = encode(ops);
          const results: string[] = [];
          const chunked = new ChunkedRam(true);
          for (const memory of [new FlatRam(MEM), chunked, new ChunkedRam(false)]) {
            for (let k = 0; k < 64; k++) memory.write32(DATA + k * 4096 + 0xffc, seed + k);
            const cpu = boot(memory, code);
            cpu.lo[0] = seed;
            runToHlt(cpu);
            results.push(snapshot(cpu, memory));
          }
          expect(results[1]).toBe(results[0]);
          expect(results[2]).toBe(results[0]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('runs random 64-bit qword and dword loads and stores as over flat RAM and the port methods', () => {
    const disp = fc.oneof(
      fc.integer({ min: 0, max: DATA_SIZE - 8 }).map((d) => d & ~3),
      fc
        .tuple(fc.integer({ min: 1, max: DATA_SIZE / 4096 - 1 }), fc.constantFrom(-8, -4, 0, 4))
        .map(([p, d]) => p * 4096 + d),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ kind: fc.integer({ min: 0, max: 5 }), disp }), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.integer(),
        (ops, seed) => {
          const code = encode64(ops);
          const results: string[] = [];
          for (const memory of [new FlatRam(MEM), new ChunkedRam(true), new ChunkedRam(false)]) {
            for (let k = 0; k < 64; k++) memory.write32(DATA + k * 4096 + 0xff8, seed ^ k);
            const cpu = boot64(memory, code);
            cpu.lo[0] = seed;
            cpu.hi[0] = ~seed;
            runToHlt(cpu);
            results.push(`${cpu.hi[0]} ${cpu.hi[3]} ${snapshot(cpu, memory)}`);
          }
          expect(results[1]).toBe(results[0]);
          expect(results[2]).toBe(results[0]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('sees a store into code it has cached (self-modifying code on a chunk view)', () => {
    const code = asm(
      `mov ecx, 3
       again: mov byte [patch + 1], cl
       patch: mov al, 0
       add bl, al
       dec ecx
       jnz again
       hlt`,
      32,
      CODE,
    );
    const memory = new ChunkedRam(true);
    const cpu = boot(memory, code);
    cpu.lo[3] = 0;
    runToHlt(cpu);
    // The patched immediate is 3, 2, 1 in turn: BL = 6, and the stores went through a view.
    expect(cpu.lo[3] & 0xff).toBe(6);
    expect(memory.writeViews).toContain(CODE / 4096);
  });

  it('asks for a store view once per page per TLB fill, and never on loads', () => {
    const code = asm(
      `mov eax, [esi]
       mov eax, [esi + 0x1000]
       mov [esi + 0x2000], eax
       mov [esi + 0x2004], eax
       mov ebx, [esi + 0x2008]
       mov cr3, edx
       mov [esi + 0x2008], eax
       hlt`,
      32,
      CODE,
    );
    const memory = new ChunkedRam(true);
    memory.write32(DATA + 0x1000, 7);
    const cpu = boot(memory, code);
    cpu.lo[2] = PD;
    cpu.lo[3] = 9;
    const before = memory.writeViews.length;
    runToHlt(cpu);
    // The two stores to DATA+0x2000 share one fill; the CR3 reload makes the third fill again.
    expect(memory.writeViews.slice(before)).toEqual([
      (DATA + 0x2000) / 4096,
      (DATA + 0x2000) / 4096,
    ]);
    expect(memory.read32(DATA + 0x2008)).toBe(7);
    expect(cpu.lo[3]).toBe(0);
  });

  it('does not allocate a chunk by reading it', () => {
    const code = asm(`mov eax, [esi + 0x30000]\nmov ebx, [esi + 0x30ffc]\nhlt`, 32, CODE);
    const memory = new ChunkedRam(true);
    const cpu = boot(memory, code);
    cpu.lo[0] = 5;
    runToHlt(cpu);
    expect(cpu.lo[0]).toBe(0);
    expect(memory.chunks[(DATA + 0x30000) / CHUNK]).toBeUndefined();
    expect(memory.readViews).toBeGreaterThan(0);
  });

  it('still faults a supervisor store to a read-only page with CR0.WP after loading from it', () => {
    const code = asm(`mov eax, [esi]\nmov [esi], eax\nhlt`, 32, CODE);
    const memory = new ChunkedRam(true);
    const cpu = boot(memory, code, true);
    memory.write32(PT + (DATA / 4096) * 4, DATA | 1);
    memory.write32(DATA, 0x1234);
    const r = cpu.run(100);
    expect(r).toBe(EXIT.TRIPLE_FAULT);
    expect(cpu.cr2).toBe(DATA);
    expect(memory.writeViews).not.toContain(DATA / 4096);
  });

  it('rejects a view that is not a power-of-two block', () => {
    const memory = new ChunkedRam(true);
    const code = asm(`mov [esi], eax\nhlt`, 32, CODE);
    const cpu = boot(memory, code);
    memory.pageView = () => new Uint8Array(3 * 4096);
    expect(() => cpu.run(10)).toThrow(/power of two/);
  });
});
