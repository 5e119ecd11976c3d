/**
 * Issue 6's scheduler acceptance with real guests: the toolstack's Host runs PV guest kernels
 * (the repository's nasm-built `pv-spin`, which prints and then spins without a hypercall) on one
 * physical CPU under the hypervisor's credit scheduler, on deterministic virtual time. Shares are
 * measured in guest instructions executed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host, type HostDomain, parseDomainConfig } from '@typevisor/toolstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const GUEST_DIR = fileURLToPath(new URL('../pv-boot/guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
/** 100 ns of virtual time per instruction: a 30 ms credit period is 300 000 instructions. */
const INSTRUCTION_NS = 100;

let dir = '';

function spinner(host: Host, name: string, extra = ''): Promise<HostDomain> {
  return host.createDomain(
    parseDomainConfig(
      `name = "${name}"\nkernel = "${join(dir, 'pv-spin.elf')}"\nmemory = 8\n${extra}\n`,
      `${name}.cfg`,
    ),
  );
}

describe.skipIf(!haveNasm && !process.env.CI)(
  'PV guests scheduled by the credit scheduler on the Host',
  { timeout: 300_000 },
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'sched-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('two CPU-bound guests with weights 256 and 512 share one CPU 1:2 (within 5%)', async () => {
      const host = new Host({ instructionNs: INSTRUCTION_NS });
      const a = await spinner(host, 'a', 'cpu_weight = 256');
      const b = await spinner(host, 'b', 'cpu_weight = 512');
      // Warm up past start-of-day, then measure 3 s of virtual time.
      await host.run({ maxInstructions: 2_000_000, stopWhenIdle: false });
      const [a0, b0] = [a.instructions, b.instructions];
      await host.run({ maxInstructions: 30_000_000, stopWhenIdle: false });
      const ratio = (b.instructions - b0) / (a.instructions - a0);
      expect(ratio).toBeGreaterThan(2 * 0.95);
      expect(ratio).toBeLessThan(2 * 1.05);
      await host.close();
    });

    it('a guest capped at 50% gets at most half of the CPU even when it is alone', async () => {
      const host = new Host({ instructionNs: INSTRUCTION_NS });
      const a = await spinner(host, 'capped', 'cap = 50');
      await host.run({ maxInstructions: 1_000_000, stopWhenIdle: false });
      const t0 = host.nowNs();
      const i0 = a.instructions;
      const end = t0 + 3_000_000_000;
      await host.run({ until: () => host.nowNs() >= end, stopWhenIdle: false });
      const share = ((a.instructions - i0) * INSTRUCTION_NS) / (host.nowNs() - t0);
      expect(share).toBeLessThanOrEqual(0.5 * 1.05);
      expect(share).toBeGreaterThan(0.5 * 0.8); // and it does get its half
      await host.close();
    });

    it('a paused guest gets nothing and the other gets the whole CPU; unpaused, they share', async () => {
      const host = new Host({ instructionNs: INSTRUCTION_NS });
      const a = await spinner(host, 'a');
      const b = await spinner(host, 'b');
      host.pause(a.domid);
      const a0 = a.instructions;
      await host.run({ maxInstructions: 5_000_000, stopWhenIdle: false });
      expect(a.instructions).toBe(a0);
      host.unpause(a.domid);
      const [a1, b1] = [a.instructions, b.instructions];
      await host.run({ maxInstructions: 20_000_000, stopWhenIdle: false });
      const ratio = (a.instructions - a1) / (b.instructions - b1);
      expect(ratio).toBeGreaterThan(0.9);
      expect(ratio).toBeLessThan(1.1);
      expect(host.setCredit(a.domid, 0x10000, 0)).toBeLessThan(0); // weight out of range: -EINVAL
      expect(host.setCredit(999, 256, 0)).toBeLessThan(0); // no such domain: -ESRCH
      await host.close();
    });
  },
);
