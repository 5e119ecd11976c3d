import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXIT, FlatRam, X86Cpu, X86CpuError } from '../src/index.ts';
import { asm, CODE, runToHlt, setup } from './helpers.ts';

describe('embedder interface: exits', () => {
  it('OUT exits after retiring with port, size and value; IN exits and completeIoIn fills the register', () => {
    const { cpu } = setup(
      'prot32',
      asm('mov al, 0x41\nout 0xe9, al\nmov dx, 0x3f8\nin ax, dx\nmov ebx, eax\nhlt', 32, CODE),
    );
    expect(cpu.run(100)).toBe(EXIT.IO_OUT);
    expect(cpu.exit).toMatchObject({ port: 0xe9, size: 1, value: 0x41, instructionLength: 2 });
    expect(cpu.run(100)).toBe(EXIT.IO_IN);
    expect(cpu.exit).toMatchObject({ port: 0x3f8, size: 2 });
    cpu.completeIoIn(0xbeef);
    runToHlt(cpu);
    expect(cpu.lo[3] & 0xffff).toBe(0xbeef);
  });

  it('completeIoIn without a pending IN is library misuse', () => {
    const { cpu } = setup('prot32', asm('hlt', 32, CODE));
    expect(() => cpu.completeIoIn(1)).toThrow(X86CpuError);
  });

  it('REP OUTSB exits once per byte and resumes where it left off', () => {
    const { cpu } = setup(
      'prot32',
      asm('mov esi, msg\nmov ecx, 3\nmov dx, 0xe9\nrep outsb\nhlt\nmsg: db "abc"', 32, CODE),
    );
    const out: number[] = [];
    for (;;) {
      const r = cpu.run(1000);
      if (r === EXIT.HLT) break;
      expect(r).toBe(EXIT.IO_OUT);
      out.push(cpu.exit.value);
    }
    expect(String.fromCharCode(...out)).toBe('abc');
    expect(cpu.lo[1]).toBe(0);
  });

  it('reads of MMIO pages exit before the instruction and re-execute with the supplied value; writes exit after', () => {
    const ram = new FlatRam(1 << 20);
    ram.addMmioPage(0xfe000);
    const code = asm('mov eax, [0xfe010]\nadd eax, 1\nmov [0xfe020], eax\nhlt', 32, CODE);
    const { cpu } = setup('prot32', code, { memory: ram });
    expect(cpu.run(100)).toBe(EXIT.MMIO_READ);
    expect(cpu.exit).toMatchObject({ address: 0xfe010, size: 4 });
    expect(cpu.rip).toBe(CODE);
    cpu.completeMmioRead(41);
    expect(cpu.run(100)).toBe(EXIT.MMIO_WRITE);
    expect(cpu.exit).toMatchObject({ address: 0xfe020, size: 4, value: 42 });
    runToHlt(cpu);
  });

  it('CPUID answers from configured leaves, or exits when intercepted', () => {
    const code = asm('mov eax, 0x40000000\ncpuid\nhlt', 32, CODE);
    const configured = setup('prot32', code, {
      cpuid: {
        '0x40000000': { eax: 0x40000001, ebx: 0x566e6558, ecx: 0x65584d4d, edx: 0x4d4d566e },
      },
    }).cpu;
    runToHlt(configured);
    expect(configured.lo[3]).toBe(0x566e6558); // "XenV"
    const intercepted = setup('prot32', code, { intercepts: { cpuid: true } }).cpu;
    expect(intercepted.run(100)).toBe(EXIT.CPUID);
    expect(intercepted.lo[0]).toBe(0x40000000);
    expect(intercepted.exit.instructionLength).toBe(2);
  });

  it('RDMSR/WRMSR exit when intercepted and unknown MSRs raise #GP otherwise', () => {
    const code = asm('mov ecx, 0x1234\nrdmsr\nhlt', 32, CODE);
    const i = setup('prot32', code, { intercepts: { msr: true } }).cpu;
    expect(i.run(100)).toBe(EXIT.RDMSR);
    expect(i.exit.msr).toBe(0x1234);
    const g = setup('prot32', code, { intercepts: { exceptionBitmap: 1 << 13 } }).cpu;
    expect(g.run(100)).toBe(EXIT.EXCEPTION);
    expect(g.exit).toMatchObject({ vector: 13, errorCode: 0 });
  });

  it('RDTSC reads the pluggable time source', () => {
    let t = 1_000_000_007;
    const { cpu } = setup('prot32', asm('rdtsc\nmov ebx, eax\nrdtsc\nhlt', 32, CODE), {
      time: { readTsc: () => (t += 5) },
    });
    runToHlt(cpu);
    expect((cpu.lo[0] - cpu.lo[3]) | 0).toBe(5);
  });

  it('the budget bounds the instructions run and execution resumes exactly', () => {
    const { cpu } = setup('real', asm('mov cx, 1000\nl: inc ax\nloop l\nhlt', 16, CODE));
    expect(cpu.run(101)).toBe(EXIT.BUDGET);
    expect(cpu.lo[0] & 0xffff).toBe(50);
    runToHlt(cpu);
    expect(cpu.lo[0] & 0xffff).toBe(1000);
  });
});

describe('budget', () => {
  it('a guest stuck in a fault loop still returns BUDGET (faulting instructions count)', () => {
    const { cpu, ram } = setup('prot32', asm('ud2', 32, CODE));
    // GDT with a flat ring-0 code segment at 0x08; IDT gate 6 (#UD) pointing back at the UD2.
    ram.write32(0x4008, 0x0000ffff);
    ram.write32(0x400c, 0x00cf9a00);
    cpu.gdtBase = 0x4000;
    cpu.gdtLimit = 0x17;
    ram.write32(0x5000 + 6 * 8, (0x08 << 16) | CODE);
    ram.write32(0x5000 + 6 * 8 + 4, 0x8e00);
    cpu.idtBase = 0x5000;
    cpu.idtLimit = 0x7ff;
    expect(cpu.run(1000)).toBe(EXIT.BUDGET);
    expect(cpu.getSp()).toBeLessThan(0x9000);
  });
});

describe('state', () => {
  const program = asm(
    'mov ecx, 300\nxor eax, eax\nl: imul eax, eax, 7\nadd eax, ecx\nmov [0x3000 + ecx*4], eax\npushfd\npop ebx\nloop l\nhlt',
    32,
    CODE,
  );

  it('getState → JSON → fromState at any instruction boundary continues bit-exactly', () => {
    const reference = setup('prot32', program).cpu;
    runToHlt(reference);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1500 }), (split) => {
        const { cpu, ram } = setup('prot32', program);
        cpu.run(split);
        const saved = JSON.parse(JSON.stringify(cpu.getState()));
        const ram2 = new FlatRam(ram.bytes.length);
        ram2.load(0, ram.bytes);
        const resumed = X86Cpu.fromState(saved, { memory: ram2 });
        runToHlt(resumed);
        expect(resumed.getState()).toEqual(reference.getState());
        expect(
          Buffer.compare(
            ram2.bytes.subarray(0x3000, 0x3500),
            (reference.memory as FlatRam).bytes.subarray(0x3000, 0x3500),
          ),
        ).toBe(0);
      }),
      { numRuns: 25 },
    );
  });
});

describe('guest-controlled input', () => {
  it('random byte streams in every mode never throw anything but exits (faults become #UD/#GP/#PF exits)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.constantFrom('real', 'prot32', 'long64'),
        (bytes, mode) => {
          const { cpu } = setup(mode as 'real', bytes, { intercepts: { exceptionBitmap: -1 } });
          let exits = 0;
          for (let i = 0; i < 20; i++) {
            // Nothing the guest executes may throw (no feature is left as an UNSUPPORTED error).
            const r = cpu.run(200);
            exits++;
            if (r === EXIT.IO_IN) cpu.completeIoIn(0);
            else if (r === EXIT.MMIO_READ) cpu.completeMmioRead(0);
            else if (
              r === EXIT.EXCEPTION ||
              r === EXIT.TRIPLE_FAULT ||
              r === EXIT.HLT ||
              r === EXIT.BUDGET
            )
              break;
          }
          expect(exits).toBeGreaterThan(0);
        },
      ),
      { numRuns: Number(process.env.X86_FUZZ_RUNS ?? 400) },
    );
  });
});
