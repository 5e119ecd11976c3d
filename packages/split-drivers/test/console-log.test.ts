import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONSOLE_INPUT_QUEUE_MAX,
  ConsoleBackend,
  ConsoleFront,
  ConsoleLog,
  consoleTimestamp,
  MemoryByteStore,
} from '../src/index.ts';
import { MemoryFabric } from '../src/testing/index.ts';
import { FileByteStore } from './file-byte-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'split-drivers-console-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('console log', () => {
  it('appends guest output to an existing log file, stamping each line as xenconsoled does', async () => {
    const path = join(dir, 'guest-demo.log');
    writeFileSync(path, 'old run\n');
    const store = await FileByteStore.open(path);
    let now = Date.UTC(2026, 10, 23, 23, 59, 58, 500);
    const log = await ConsoleLog.open(store, { timestamps: true, clock: { now: () => now } });
    log.write(enc('Booting'));
    now += 1000;
    log.write(enc(' kernel\r\n'));
    log.write(enc('\rlogin: ')); // a \r right after a \n is dropped
    now += 1000;
    log.write(enc('\n\n'));
    await log.flush();
    await store.close();
    expect(readFileSync(path, 'utf8')).toBe(
      'old run\n' +
        '[2026-11-23 23:59:58] Booting kernel\r\n' +
        '[2026-11-23 23:59:59] login: \n' +
        '[2026-11-24 00:00:00] \n',
    );
    expect(consoleTimestamp(0)).toBe('[1970-01-01 00:00:00] ');
  });

  it('keeps the bytes exact without timestamps, and strips only stamps and CRs after newlines with them (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a', 'b', '\n', '\r', ' '), { maxLength: 60 }),
        fc.array(fc.nat(60), { maxLength: 6 }),
        async (chars, cuts) => {
          const text = chars.join('');
          const points = [...new Set(cuts.map((c) => Math.min(c, text.length)))].sort(
            (a, b) => a - b,
          );
          const chunks: string[] = [];
          let at = 0;
          for (const p of [...points, text.length]) {
            chunks.push(text.slice(at, p));
            at = p;
          }
          const plainStore = new MemoryByteStore();
          const stampedStore = new MemoryByteStore();
          const plain = await ConsoleLog.open(plainStore);
          const stamped = await ConsoleLog.open(stampedStore, {
            timestamps: true,
            clock: { now: () => 0 },
          });
          for (const c of chunks) {
            plain.write(enc(c));
            stamped.write(enc(c));
          }
          await plain.flush();
          await stamped.flush();
          expect(dec(plainStore.bytes())).toBe(text);
          const model = text.replace(/\n\r+/g, '\n');
          const lines =
            model === ''
              ? 0
              : model.split('\n').filter((_, i, a) => i < a.length - 1 || a[i] !== '').length;
          const out = dec(stampedStore.bytes());
          expect(out.split('[1970-01-01 00:00:00] ').length - 1).toBe(lines);
          expect(out.replaceAll('[1970-01-01 00:00:00] ', '')).toBe(model);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('records a failing store and goes on logging later output', async () => {
    let fail = true;
    const inner = new MemoryByteStore();
    const store = {
      size: () => inner.size(),
      read: (o: number, d: Uint8Array) => inner.read(o, d),
      write: (o: number, s: Uint8Array) =>
        fail ? Promise.reject(new Error('ENOSPC')) : inner.write(o, s),
      flush: () => inner.flush(),
    };
    const log = await ConsoleLog.open(store);
    log.write(enc('lost'));
    await log.flush();
    expect(String(log.lastError)).toContain('ENOSPC');
    fail = false;
    log.write(enc('kept'));
    await log.flush();
    expect(dec(inner.bytes()).slice(4)).toBe('kept');
  });
});

function consoleRig() {
  const fabric = new MemoryFabric();
  const guest = fabric.domain(4);
  const page = new Uint8Array(4096);
  const front = new ConsoleFront(page);
  const port = guest.events.allocUnbound(0);
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { fabric, guest, page, front, port, settle };
}

describe('console backend for the toolstack console verb', () => {
  it('logs output while a terminal is attached, and stops feeding a detached terminal', async () => {
    const r = consoleRig();
    const store = new MemoryByteStore();
    const log = await ConsoleLog.open(store);
    const main: string[] = [];
    const backend = new ConsoleBackend({
      page: r.page,
      events: r.fabric.domain(0).events,
      remoteDomid: 4,
      remotePort: r.port,
      onOutput: (b) => main.push(dec(b)),
      log,
    });
    const term: string[] = [];
    const detach = backend.attach((b) => term.push(dec(b)));
    r.front.write(enc('hello\n'));
    r.guest.events.notify(r.port);
    await r.settle();
    detach();
    r.front.write(enc('bye\n'));
    r.guest.events.notify(r.port);
    await r.settle();
    await log.flush();
    expect(main.join('')).toBe('hello\nbye\n');
    expect(term.join('')).toBe('hello\n');
    expect(dec(store.bytes())).toBe('hello\nbye\n');
  });

  it('feeds input larger than the ring as the guest consumes it, in order, and caps the queue', async () => {
    const r = consoleRig();
    const backend = new ConsoleBackend({
      page: r.page,
      events: r.fabric.domain(0).events,
      remoteDomid: 4,
      remotePort: r.port,
      onOutput: () => {},
    });
    const input = Uint8Array.from({ length: 3000 }, (_, i) => 32 + (i % 90));
    expect(backend.queueInput(input)).toBe(3000);
    expect(backend.pendingInput).toBe(3000 - 1024);
    expect(backend.sendInput(enc('x'))).toBe(0); // would overtake queued input
    const got: number[] = [];
    for (let round = 0; round < 5 && got.length < 3000; round++) {
      got.push(...r.front.read()); // the guest reads, then signals the backend (hvc_xen does)
      r.guest.events.notify(r.port);
      await r.settle();
    }
    expect(Uint8Array.from(got)).toEqual(input);
    expect(backend.pendingInput).toBe(0);
    expect(backend.bytesIn).toBe(3000);
    const flood = new Uint8Array(CONSOLE_INPUT_QUEUE_MAX + 2000);
    expect(backend.queueInput(flood)).toBe(CONSOLE_INPUT_QUEUE_MAX);
    expect(backend.inputDropped).toBe(2000);
    expect(backend.pendingInput).toBe(CONSOLE_INPUT_QUEUE_MAX - 1024);
  });
});
