/**
 * The repository's SMP guest (`guest/`, 64-bit PV) on a Host with several physical CPUs: vCPU 0
 * brings the others up with VCPUOP_initialise/up, they exchange IPIs over bind_ipi ports and
 * count their own VIRQ_TIMER ticks, spin together, go down and up again. Its console output
 * must equal the real Xen 4.17's (`golden/`, recorded with xen-reference on 2 pCPUs); where the
 * vCPUs ran must follow the scheduler's pinning; two busy vCPUs on two pCPUs must both run at
 * once (work conservation); `vcpu-set` drives the guest's hotplug watch.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  formatVcpuList,
  Host,
  type HostDomain,
  parseDomainConfig,
  pinVcpu,
  setVcpus,
  ToolstackError,
  vcpuRows,
} from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';

const GUEST = fileURLToPath(new URL('./guest/smp-x86_64.elf', import.meta.url));
const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));
/** 20 ns per instruction: the guests' 10 ms timer ticks come every 500 000 instructions. */
const NS = 20;

function config(extra: string): ReturnType<typeof parseDomainConfig> {
  return parseDomainConfig(
    `name = "smp"\nkernel = "${GUEST}"\nmemory = 16\non_poweroff = "preserve"\n${extra}`,
    'smp.cfg',
  );
}

/** The lines between the guest's begin and end markers. */
function transcript(d: HostDomain): string[] {
  const text = d.consoleText();
  const at = text.indexOf('TYPEVISOR-SMP begin');
  const end = text.indexOf('TYPEVISOR-SMP end');
  return text.slice(at, end + 'TYPEVISOR-SMP end'.length).split('\n');
}

function golden(vcpus: number): string[] {
  return readFileSync(`${GOLDEN}smp-${vcpus}vcpus.txt`, 'utf8').trimEnd().split('\n');
}

async function runToEnd(
  pcpus: number,
  extra: string,
  before?: (host: Host, d: HostDomain) => void,
): Promise<{ host: Host; d: HostDomain; elapsedNs: number }> {
  const host = new Host({ pcpus, memoryMiB: 64, instructionNs: NS });
  const d = await host.createDomain(config(extra), { paused: before !== undefined });
  before?.(host, d);
  if (before !== undefined) host.unpause(d.domid);
  const t0 = host.nowNs();
  await host.run({ until: () => d.state === 'shutdown', timeoutMs: 90_000 });
  expect(d.shutdownName).toBe('poweroff');
  for (const v of d.vcpus) expect(v.vcpu.crash).toBeNull();
  return { host, d, elapsedNs: host.nowNs() - t0 };
}

/** CPU time of all vCPUs over elapsed time: how many pCPUs were busy on average. */
function busyPcpus(d: HostDomain, elapsedNs: number): number {
  let instructions = 0;
  for (const v of d.vcpus) instructions += v.instructions;
  return (instructions * NS) / elapsedNs;
}

describe('the SMP guest on a Host with several physical CPUs', () => {
  it('2 vCPUs on 2 pCPUs: the real Xen 4.17 output, both pCPUs busy at once, memory back after destroy', async () => {
    const { host, d, elapsedNs } = await runToEnd(2, 'vcpus = 2\n');
    expect(transcript(d)).toEqual(golden(2));
    expect(d.vcpus.map((v) => v.instructions > 0)).toEqual([true, true]);
    // Work conservation: the spin phase keeps both vCPUs busy, each on its own pCPU.
    expect(busyPcpus(d, elapsedNs)).toBeGreaterThan(1.3);
    expect(new Set(d.vcpus.map((v) => v.lastPcpu)).size).toBe(2);
    const free = host.machine.frames.freeFrames;
    await host.destroyDomain(d.domid);
    expect(host.machine.frames.freeFrames).toBeGreaterThan(free);
    expect(host.scheduler.hasDomain(d.domid)).toBe(false);
  });

  it('4 vCPUs on 2 pCPUs: the real Xen 4.17 output, every vCPU ran', async () => {
    const { d, elapsedNs } = await runToEnd(2, 'vcpus = 4\n');
    expect(transcript(d)).toEqual(golden(4));
    expect(d.vcpus.every((v) => v.instructions > 0)).toBe(true);
    expect(busyPcpus(d, elapsedNs)).toBeGreaterThan(1.3);
    expect(busyPcpus(d, elapsedNs)).toBeLessThanOrEqual(2.0001);
  });

  it('cpus="1" pins every vCPU to pCPU 1: it never runs on pCPU 0, and vcpu-list shows it', async () => {
    const { host, d, elapsedNs } = await runToEnd(2, 'vcpus = 2\ncpus = "1"\n');
    expect(transcript(d)).toEqual(golden(2));
    for (const v of d.vcpus) {
      expect(v.ranOn[0] ?? 0).toBe(0);
      expect(v.ranOn[1]).toBeGreaterThan(0);
    }
    // One pCPU's worth of time at most: the vCPUs took turns.
    expect(busyPcpus(d, elapsedNs)).toBeLessThanOrEqual(1.0001);
    const rows = vcpuRows(host, d);
    expect(rows.map((r) => r.affinity)).toEqual(['1', '1']);
    const text = formatVcpuList(rows);
    expect(text.split('\n')[0]).toBe(
      'Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)',
    );
    expect(text.split('\n')[2]).toMatch(/^smp {34}1 {5}1 {4}- {3}--p +\d+\.\d {2}1 \/ all$/);
  });

  it('vcpu-pin before unpausing moves one vCPU to pCPU 0 and the other to pCPU 1', async () => {
    const { host, d } = await runToEnd(2, 'vcpus = 2\n', (h, dom) => {
      pinVcpu(h, dom, 0, '0');
      pinVcpu(h, dom, 1, '1', '0-1');
    });
    expect(transcript(d)).toEqual(golden(2));
    expect(d.vcpus[0]?.ranOn[1] ?? 0).toBe(0);
    expect(d.vcpus[1]?.ranOn[0] ?? 0).toBe(0);
    expect(d.vcpus[1]?.ranOn[1]).toBeGreaterThan(0);
    expect(vcpuRows(host, d).map((r) => `${r.affinity} / ${r.softAffinity}`)).toEqual([
      '0 / all',
      '1 / all',
    ]);
    expect(() => pinVcpu(host, d, 2, '0')).toThrow(ToolstackError);
    expect(() => pinVcpu(host, d, 0, '2')).toThrow(/invalid CPU list "2"/);
    expect(() => pinVcpu(host, d, 'all', 'x')).toThrow(ToolstackError);
    pinVcpu(host, d, 'all', '^0');
    expect(vcpuRows(host, d).map((r) => r.affinity)).toEqual(['1', '1']);
  });

  it('vcpu-set writes cpu/<n>/availability as libxl does, and the guest hot-plugs its vCPUs', async () => {
    const host = new Host({ pcpus: 2, memoryMiB: 64, instructionNs: NS });
    const d = await host.createDomain(config('vcpus = 2\nmaxvcpus = 4\nextra = "hotplug"\n'));
    const avail = async () =>
      Promise.all(
        [0, 1, 2, 3].map((n) =>
          host.xs.readString(`/local/domain/${d.domid}/cpu/${n}/availability`),
        ),
      );
    expect(await avail()).toEqual(['online', 'online', 'offline', 'offline']);
    const count = (s: string) => d.consoleText().split(s).length - 1;
    // The guest's watch fires once when set: it takes the offline vCPUs down.
    await host.run({ until: () => count('hotplug.online') >= 1, timeoutMs: 90_000 });
    expect(d.consoleText()).toContain(
      'cpu.2.hotplug.down 0\ncpu.3.hotplug.down 0\nhotplug.online 2\n',
    );
    expect(d.onlineVcpus).toBe(2);
    expect(vcpuRows(host, d).map((r) => r.state.endsWith('p'))).toEqual([false, false, true, true]);

    await setVcpus(host, d, 3);
    expect(await avail()).toEqual(['online', 'online', 'online', 'offline']);
    await host.run({ until: () => count('hotplug.online 3') >= 1, timeoutMs: 90_000 });
    expect(d.consoleText()).toContain('cpu.2.hotplug.up 0\nhotplug.online 3\n');
    expect(d.onlineVcpus).toBe(3);

    await setVcpus(host, d, 1);
    await host.run({ until: () => count('hotplug.online 1') >= 1, timeoutMs: 90_000 });
    expect(d.onlineVcpus).toBe(1);
    await expect(setVcpus(host, d, 5)).rejects.toThrow(/at most 4/);
    await expect(setVcpus(host, d, 0)).rejects.toThrow(ToolstackError);
    await host.close();
  });

  it('each vCPU finds its vcpu_info in its shared_info slot, and where register_vcpu_info moves it', async () => {
    const host = new Host({ pcpus: 2, memoryMiB: 64 });
    const d = await host.createDomain(config('vcpus = 3\n'), { paused: true });
    const slots = d.vcpus.map((v) => v.vcpu.traps.vcpuInfo?.address ?? -1);
    expect(slots[1]).toBe((slots[0] ?? 0) + 64);
    expect(slots[2]).toBe((slots[0] ?? 0) + 128);
    expect(slots[0]).toBe(host.evtchn.vcpuInfoAddress(d.domid, 0));
    // Move vCPU 2's vcpu_info into a frame of its own memory, as VCPUOP_register_vcpu_info does.
    const frame = host.machine.p2m(d.domid).get(100) * 4096 + 256;
    expect(host.evtchn.registerVcpuInfo(d.domid, 2, frame)).toBe(0);
    expect(d.vcpus[2]?.vcpu.traps.vcpuInfo?.address).toBe(frame);
    expect(d.vcpus[1]?.vcpu.traps.vcpuInfo?.address).toBe(slots[1]);
    await host.close();
  });

  it('refuses configurations the host cannot run with a clear error, and bad pCPU counts', async () => {
    const host = new Host({ pcpus: 2, memoryMiB: 64 });
    await expect(host.createDomain(config('vcpus = 2\nmaxvcpus = 33\n'))).rejects.toThrow(
      /at most 32 vCPUs/,
    );
    expect(host.domains.size).toBe(0);
    expect(() => new Host({ pcpus: 0 })).toThrow(/pcpus must be an integer from 1 to 64/);
    expect(() => new Host({ pcpus: 65 })).toThrow(ToolstackError);
  });

  it('whole-host save and migration refuse a host with an SMP domain instead of dropping vCPUs', async () => {
    const host = new Host({ pcpus: 2, memoryMiB: 64, instructionNs: NS });
    const d = await host.createDomain(config('vcpus = 2\n'), { paused: true });
    await expect(host.save()).rejects.toThrow(/domain \d+ \(smp\) has 2 vCPUs/);
    await expect(host.migrate(() => {})).rejects.toThrow(/cannot be migrated while domain/);
    // Nothing was stopped or lost: the domain still runs to its end afterwards.
    host.unpause(d.domid);
    await host.run({ until: () => d.state === 'shutdown', timeoutMs: 90_000 });
    expect(d.shutdownName).toBe('poweroff');
    await host.close();
  });
});
