import { describe, expect, it } from 'vitest';
import { ConsoleBackend, ConsoleFront } from '../src/index.ts';
import { MemoryFabric } from '../src/testing/index.ts';

describe('console backend', () => {
  it('drains guest output on each event and wakes a guest waiting for the ring to empty', async () => {
    const fabric = new MemoryFabric();
    const guest = fabric.domain(4);
    const page = new Uint8Array(4096);
    page[3088] = 1; // XENCONSOLE_DISCONNECTED, as the domain builder leaves it
    const front = new ConsoleFront(page);
    const port = guest.events.allocUnbound(0);
    let wakeups = 0;
    guest.events.onEvent(port, () => wakeups++);
    expect(front.write(new TextEncoder().encode('early boot\n'))).toBe(11);
    const out: string[] = [];
    const backend = new ConsoleBackend({
      page,
      events: fabric.domain(0).events,
      remoteDomid: 4,
      remotePort: port,
      onOutput: (b) => out.push(new TextDecoder().decode(b)),
    });
    expect(front.isConnected()).toBe(true);
    expect(out).toEqual(['early boot\n']); // drained at attach
    // XTF style: write, notify, wait until out_cons == out_prod.
    front.write(new TextEncoder().encode('Test result: SUCCESS\n'));
    guest.events.notify(port);
    while (!front.isDrained()) await Promise.resolve();
    expect(out.join('')).toBe('early boot\nTest result: SUCCESS\n');
    await Promise.resolve();
    expect(wakeups).toBeGreaterThan(0);
    expect(backend.sendInput(new TextEncoder().encode('q'))).toBe(1);
    expect(new TextDecoder().decode(front.read())).toBe('q');
    expect([backend.bytesOut, backend.bytesIn]).toEqual([32, 1]);
    backend.close();
  });

  it('refuses to attach to a port the guest did not offer', () => {
    const fabric = new MemoryFabric();
    fabric.domain(4);
    expect(
      () =>
        new ConsoleBackend({
          page: new Uint8Array(4096),
          events: fabric.domain(0).events,
          remoteDomid: 4,
          remotePort: 9,
          onOutput: () => {},
        }),
    ).toThrow(/cannot bind console port 9/);
  });
});
