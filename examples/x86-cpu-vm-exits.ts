/**
 * Embedding the x86 CPU model the way a VMM embeds KVM: load real-mode machine code, call
 * `run(budget)` and handle the VM exits it returns — here a guest printing to a serial port
 * with OUT instructions and stopping with HLT — with a disassembled trace of the first
 * instruction.
 *
 * Run: pnpm tsx --conditions=@typevisor/source examples/x86-cpu-vm-exits.ts
 */
import { EXIT, FlatRam, traceLine, X86Cpu } from '@typevisor/x86-cpu';

// mov si, msg; mov dx, 0x3f8; l: lodsb; test al, al; jz done; out dx, al; jmp l; done: hlt
const code = Uint8Array.from([
  0xbe,
  0x0f,
  0x7c,
  0xba,
  0xf8,
  0x03,
  0xac,
  0x84,
  0xc0,
  0x74,
  0x03,
  0xee,
  0xeb,
  0xf8,
  0xf4,
  ...new TextEncoder().encode('hello from real mode\n'),
  0,
]);
const ram = new FlatRam(1 << 20);
ram.load(0x7c00, code);
const cpu = X86Cpu.create({ memory: ram });
cpu.loadSegReal(1, 0); // CS = 0 (the reset state is CS:IP = F000:FFF0)
cpu.rip = 0x7c00;
console.log(traceLine(code, 0, 16, 0x7c00));

let serial = '';
let exits = 0;
for (;;) {
  const reason = cpu.run(10_000);
  exits++;
  if (reason === EXIT.IO_OUT && cpu.exit.port === 0x3f8)
    serial += String.fromCharCode(cpu.exit.value);
  else if (reason === EXIT.HLT) break;
}
process.stdout.write(serial);
console.log(`${exits} VM exits, stopped at HLT with RIP 0x${cpu.rip.toString(16)}`);
