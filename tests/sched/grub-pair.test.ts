/**
 * Two of Debian's unmodified GRUBs on one Host's single pCPU under the credit scheduler, on
 * virtual time. At its `grub>` prompt GRUB busy-polls the console ring (no hypercall), so two
 * prompts are two CPU-bound domains of equal weight: they share the pCPU about 50/50. While
 * booting, GRUB waits for every xenstore reply with EVTCHNOP_send + SCHEDOP_yield in a loop:
 * the regression was a second GRUB, started beside one already at its prompt, waiting out the
 * first one's whole 30 ms slice for each reply (dom0 never preempted the running guest as
 * Xen's BOOSTed dom0 vCPU does), so it got about 1 % of the CPU.
 */
import { describe, expect, it } from 'vitest';
import {
  grubConfig,
  haveGrub,
  testEnv,
  typeCommand,
  waitForConsole,
} from '../grub-boot/support.ts';

/** 10 ns of virtual time per instruction: a 30 ms credit slice is 3 M instructions. */
const INSTRUCTION_NS = 10;

const env = testEnv('grub-pair-');
env.install();

describe.skipIf(!haveGrub && !process.env.CI)('two GRUBs on one pCPU', { timeout: 120_000 }, () => {
  it('a second GRUB boots beside one at its prompt, both share the CPU fairly and both answer typed input', async () => {
    const host = env.newHost({ time: 'virtual', instructionNs: INSTRUCTION_NS });
    const g1 = await host.createDomain(grubConfig({ name: 'g1' }));
    await waitForConsole(host, g1, 'grub> ');
    const g2 = await host.createDomain(grubConfig({ name: 'g2' }));
    // g2 boots in about 24 M instructions of its own while g1 spins at its prompt. It gets
    // about 47 % of the pCPU meanwhile (40 % before the fix, 6 % at 1 ns per instruction, when
    // each of its xenstore waits cost a 30 M-instruction slice of g1's).
    const start = g1.instructions;
    await waitForConsole(host, g2, 'grub> ');
    expect(g2.instructions / (g2.instructions + g1.instructions - start)).toBeGreaterThan(0.43);

    // Both at their prompts: 40 M instructions are 0.4 s of virtual time, about 13 slices.
    const [a0, b0] = [g1.instructions, g2.instructions];
    await host.run({ maxInstructions: 40_000_000, stopWhenIdle: false });
    const a = g1.instructions - a0;
    const b = g2.instructions - b0;
    const share = b / (a + b);
    expect(share).toBeGreaterThan(0.35);
    expect(share).toBeLessThan(0.65);

    // Typed input reaches either domain, and is echoed, within one slice (GRUB waits for dom0
    // to drain its console ring with SCHEDOP_yield: before the fix each wait cost a slice of the
    // other guest's, 51 M instructions for this line).
    for (const dom of [g2, g1]) {
      const before = g1.instructions + g2.instructions;
      const out = await typeCommand(host, dom, `echo hi from ${dom.name}`);
      expect(out).toContain(`hi from ${dom.name}\n`);
      expect(g1.instructions + g2.instructions - before).toBeLessThan(3_000_000);
    }
  });
});
