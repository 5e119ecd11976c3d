/**
 * Page walks per second under forced TLB misses: a 32-bit guest touches 1024 distinct 4 KiB
 * pages (2-level paging, one page table) and reloads CR3 after each sweep, so every touch
 * walks the paging structures (A bits already set after the first sweep). A counting
 * `PageWalker` wrapped around the built-in one measures exactly the walks performed.
 *
 * Guest (nasm, bits 32, org 0x1000):
 *   mov ebx, 0x70000
 *   outer: mov esi, 0x400000 / mov ecx, 1024
 *   touch: mov eax, [esi] / add esi, 4096 / dec ecx / jnz touch
 *          mov cr3, ebx / jmp outer
 */
import {
  BuiltinPageWalker,
  FlatRam,
  type PageWalker,
  type WalkRequest,
  X86Cpu,
} from '@typevisor/x86-cpu';
import { defineSuite } from '../harness.ts';

const GUEST = 'bb00000700be00004000b9000400008b0681c6001000004975f50f22dbebe6';

class CountingWalker implements PageWalker {
  walks = 0;
  private readonly inner: PageWalker;
  constructor(inner: PageWalker) {
    this.inner = inner;
  }
  walk(req: WalkRequest): void {
    this.walks++;
    this.inner.walk(req);
  }
}

const ram = new FlatRam(16 << 20);
ram.load(0x1000, Uint8Array.from(Buffer.from(GUEST, 'hex')));
// Page directory at 0x70000: 0..4 MiB as one 4 MiB PSE page (code, stack, tables),
// 4..8 MiB through a page table at 0x71000 with 4 KiB pages.
ram.write32(0x70000, 0x87);
ram.write32(0x70004, 0x71007);
for (let i = 0; i < 1024; i++) ram.write32(0x71000 + i * 4, (0x400000 + i * 4096) | 7);
const walker = new CountingWalker(new BuiltinPageWalker(ram));
const cpu = X86Cpu.create({ memory: ram, walker });
cpu.cr4 = 0x10;
cpu.cr3 = 0x70000;
cpu.cr0 = 0x80000011 | 0;
for (let s = 0; s < 6; s++) {
  cpu.segSel[s] = s === 1 ? 0x08 : 0x10;
  cpu.segBase[s] = 0;
  cpu.segLimit[s] = -1;
  cpu.segAttr[s] = s === 1 ? 0xc09b : 0xc093;
}
cpu.rip = 0x1000;
cpu.lo[4] = 0x9000;
cpu.updateMode();
cpu.flushTlb();

export default defineSuite({
  name: 'x86-cpu/tlb-miss',
  description:
    'Guest page walks per second with the TLB flushed by a CR3 reload after every 1024-page sweep (2-level paging, 4 KiB pages).',
  unit: 'M walks/s',
  divisor: 1e6,
  cases: [
    {
      name: 'typevisor',
      run(iters) {
        const target = walker.walks + iters;
        while (walker.walks < target) cpu.run(256);
        return cpu.lo[0] ?? 0;
      },
    },
  ],
});
