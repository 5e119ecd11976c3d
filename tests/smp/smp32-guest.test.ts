/**
 * The focused 32-bit PAE PV SMP guest (`guest32/smp32.asm`, nasm-built at test time) on a Host
 * with two physical CPUs: vCPU 0 counts the vCPUs with the compat VCPUOP_is_up, makes hostile
 * calls, brings every other vCPU up with a 2800-byte compat vcpu_guest_context (ctrlreg[3] in
 * the extended-cr3 encoding, a ring-0 CS fixed up to ring 1) and VCPUOP_up, waits for it to run
 * and take itself down, reads its compat runstate and brings it up again. The expected lines are
 * Xen's values for each call (the errno values of do_vcpu_op / arch_set_info_guest; runstate
 * offline = 3). Brought up again, each vCPU blocks in SCHEDOP_poll on an IPI port bound to it until
 * vCPU 0 sends it, then on its own VIRQ_TIMER port until its periodic timer ticks; then it
 * unmasks its vcpu_info and takes vCPU 0's second IPI as an event upcall. Xen's reference tool
 * runs 64-bit guests only, so this guest has no recorded golden of its own — `smp-guest.test.ts`
 * holds the 64-bit one.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Host,
  type HostDomain,
  parseDomainConfig,
  pinVcpu,
  restoreDomainImage,
  saveDomainToBytes,
  ToolstackError,
  vcpuRows,
} from '@typevisor/toolstack';
import { beforeAll, describe, expect, it } from 'vitest';

const GUEST_DIR = fileURLToPath(new URL('./guest32/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
let dir = '';

const hex = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

/** What Xen returns to the guest for each of its calls with `n` vCPUs. */
function expected(n: number): string[] {
  const lines = [
    'TYPEVISOR-SMP32 begin',
    `shared_info.map ${hex(0)}`,
    `vcpus ${hex(n)}`,
    `is_up.past_last ${hex(-2)}`, // -ENOENT
    `up.uninitialised ${hex(-22)}`, // -EINVAL
    `initialise.bad_pointer ${hex(-14)}`, // -EFAULT
    `initialise.cr3_0 ${hex(-22)}`,
    `initialise.ring3_cs ${hex(-22)}`,
  ];
  for (let i = 1; i < n; i++) {
    lines.push(
      `cpu ${hex(i)}`,
      `  bind_ipi ${hex(0)}`,
      `  bind_virq.timer ${hex(0)}`,
      `  initialise ${hex(0)}`,
      `  initialise.again ${hex(-17)}`, // -EEXIST
      `  up ${hex(0)}`,
      `  ran ${hex(1)}`,
      `  is_up ${hex(0)}`,
      `  runstate.rc ${hex(0)}`,
      `  runstate.state ${hex(3)}`, // RUNSTATE_offline
      `  up ${hex(0)}`,
      `  send ${hex(0)}`,
      `  send ${hex(0)}`, // the second IPI, once it has unmasked events
      `  ran ${hex(6)}`, // polls woken by the IPI and its timer, then the upcall
      `  poll.ipi ${hex(0)}`,
      `  poll.timer ${hex(0)}`,
      `  upcall.ipi ${hex(1)}`,
    );
  }
  lines.push('TYPEVISOR-SMP32 end');
  return lines;
}

function transcript(d: HostDomain): string[] {
  const text = d.xenConsoleText(); // CONSOLEIO_write
  const at = text.indexOf('TYPEVISOR-SMP32 begin');
  const end = text.indexOf('TYPEVISOR-SMP32 end');
  return text.slice(at, end + 'TYPEVISOR-SMP32 end'.length).split('\n');
}

async function run(
  vcpus: number,
  before?: (host: Host, d: HostDomain) => void,
): Promise<{ host: Host; d: HostDomain }> {
  const host = new Host({ pcpus: 2, memoryMiB: 64, instructionNs: 20 });
  const d = await host.createDomain(
    parseDomainConfig(
      `name = "smp32"\nkernel = "${join(dir, 'smp32.elf')}"\nmemory = 16\non_poweroff = "preserve"\nvcpus = ${vcpus}\n`,
      'smp32.cfg',
    ),
    { paused: before !== undefined },
  );
  if (before !== undefined) {
    before(host, d);
    host.unpause(d.domid);
  }
  await host.run({ until: () => d.state === 'shutdown', timeoutMs: 30_000 });
  return { host, d };
}

describe.skipIf(!haveNasm && !process.env.CI)(
  'the 32-bit PAE PV SMP guest on a Host with two physical CPUs',
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'smp32-'));
      execFileSync('sh', [join(GUEST_DIR, 'build.sh'), dir]);
    });

    for (const n of [2, 4]) {
      it(`${n} vCPUs: every secondary vCPU comes up from a compat context, runs, goes down and up again, and takes its IPIs, timer ticks and an upcall`, async () => {
        const { d } = await run(n);
        expect(transcript(d)).toEqual(expected(n));
        expect(d.shutdownName).toBe('poweroff');
        expect(d.vcpus).toHaveLength(n);
        for (const v of d.vcpus) {
          expect(v.vcpu.crash).toBeNull();
          expect(v.instructions).toBeGreaterThan(0);
        }
      });
    }

    it('vcpu-pin before unpausing keeps vCPU 0 on pCPU 0 and vCPU 1 on pCPU 1; vcpu-list shows both', async () => {
      const { host, d } = await run(2, (h, dom) => {
        pinVcpu(h, dom, 0, '0');
        pinVcpu(h, dom, 1, '1');
      });
      expect(transcript(d)).toEqual(expected(2));
      expect(d.vcpus[0]?.ranOn[1] ?? 0).toBe(0);
      expect(d.vcpus[1]?.ranOn[0] ?? 0).toBe(0);
      expect(d.vcpus[1]?.ranOn[1]).toBeGreaterThan(0);
      expect(vcpuRows(host, d).map((r) => [r.vcpu, r.affinity])).toEqual([
        [0, '0'],
        [1, '1'],
      ]);
    });

    it('a saved 32-bit domain with several vCPUs is refused on restore with a STATE error (not done yet)', async () => {
      const host = new Host({ pcpus: 2, memoryMiB: 64, instructionNs: 20 });
      const d = await host.createDomain(
        parseDomainConfig(
          `name = "smp32"\nkernel = "${join(dir, 'smp32.elf')}"\nmemory = 16\nvcpus = 2\n`,
          'smp32.cfg',
        ),
        { paused: true },
      );
      const { image } = await saveDomainToBytes(host, d.domid);
      const err = await restoreDomainImage(host, image).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ToolstackError);
      expect((err as ToolstackError).code).toBe('STATE');
      expect(String(err)).toMatch(/vCPU/);
    });
  },
);
