/**
 * The ABI reference guest through the toolstack's Host — the path `typevisor create` takes, with
 * memory_op served by `machineReservations` over the host's machine, the credit scheduler and the
 * host's clock and timers — prints the same golden lines as under Xen 4.17.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Host, parseDomainConfig } from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';

const REF = fileURLToPath(new URL('../../packages/hypervisor/test/abi-ref/', import.meta.url));

/** As in abi-ref.test.ts: Typevisor lets a domU write Xen's console, as a debug Xen does. */
const EXPECTED_DIFFERENCES: ReadonlyMap<string, string> = new Map([
  ['multicall.1.console_io -1', 'multicall.1.console_io 0'],
]);

describe('the ABI reference guest on the Host', () => {
  it('prints the golden output of the real Xen 4.17, and its memory goes back when it is destroyed', async () => {
    const host = new Host();
    const free = host.machine.frames.freeFrames;
    const shutdowns: string[] = [];
    host.onShutdown = (d, action) => shutdowns.push(`${d.shutdownName} ${action}`);
    const dom = await host.createDomain(
      parseDomainConfig(
        `name = "abi"\nkernel = "${REF}abi-ref-x86_64.elf"\nmemory = 64\non_poweroff = "preserve"\n`,
        'abi.cfg',
      ),
    );
    await host.run({ until: () => dom.state === 'shutdown', timeoutMs: 120_000 });
    expect(dom.vcpu.crash).toBeNull();
    expect(shutdowns).toEqual(['poweroff preserve']);
    const text = dom.xenConsoleText() + dom.consoleText();
    const got = text.slice(text.indexOf('TYPEVISOR-ABI-REF begin')).split('\n');
    const golden = readFileSync(`${REF}golden-x86_64.txt`, 'utf8').split('\n');
    expect(got).toEqual(golden.map((line) => EXPECTED_DIFFERENCES.get(line) ?? line));
    await host.destroyDomain(dom.domid);
    expect(host.machine.frames.freeFrames).toBe(free);
  });
});
