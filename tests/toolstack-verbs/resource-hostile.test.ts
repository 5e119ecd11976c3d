/**
 * Client- and guest-controlled input to the resource verbs: random parameter objects for every
 * resource method (what any local client can send the daemon) only ever produce a
 * `ToolstackError`, and the host keeps serving; xl's memory-size parser agrees with a model of
 * `strtoll` + unit suffix; garbage a guest writes into its own VIF directory is never shown raw
 * by `network-list`.
 */
import { fileURLToPath } from 'node:url';
import {
  Host,
  parseDomainConfig,
  parseMemSizeKb,
  RESOURCE_METHODS,
  resourceRpc,
  ToolstackError,
} from '@typevisor/toolstack';
import { inProcessTransport, XenstoreClient } from '@typevisor/xenstore';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const BALLOON = fileURLToPath(new URL('../guests/balloon/balloon-x86_64.elf', import.meta.url));

const anyValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.constantFrom('g', '1', '0', 'Domain-0', 'xvda', 'xvdb', '00:16:3e:00:00:01', 'mac=zz'),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
);
const KEYS = [
  'domain',
  'kib',
  'weight',
  'cap',
  'period',
  'slice',
  'latency',
  'extratime',
  'spec',
  'vdev',
  'device',
  'timeoutMs',
  'cwd',
];

describe('resource methods under hostile parameters', () => {
  it('random parameter objects only ever give ToolstackErrors, and the host keeps working', async () => {
    const host = new Host({ memoryMiB: 64 });
    const dom = await host.createDomain(
      parseDomainConfig(`name = "g"\nkernel = "${BALLOON}"\nmemory = 16\n`, 'g.cfg'),
      { paused: true },
    );
    const methods = [...RESOURCE_METHODS];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods),
        fc.dictionary(fc.constantFrom(...KEYS), anyValue, { maxKeys: 5 }),
        async (method, raw) => {
          const params = { ...raw, timeoutMs: 1 };
          try {
            await host.drive(resourceRpc(host, method, params) as Promise<unknown>, 10_000);
          } catch (err) {
            expect(err).toBeInstanceOf(ToolstackError);
          }
        },
      ),
      { numRuns: 300 },
    );
    // Still consistent: the guest's reservation is what it was given, the verbs still answer.
    expect(host.currentMemoryKiB(dom.domid)).toBe(16 * 1024);
    const rows = (await resourceRpc(host, 'top', {})) as { rows: unknown[] };
    expect(rows.rows).toHaveLength(2);
    await host.close();
  }, 120_000);
});

/** xl's parse_mem_size_kb over C's strtoll, written independently of the implementation. */
function model(text: string): number {
  let i = 0;
  while (i < text.length && ' \t\n\v\f\r'.includes(text[i] as string)) i++;
  let sign = 1;
  if (text[i] === '+' || text[i] === '-') {
    if (text[i] === '-') sign = -1;
    i++;
  }
  const start = i;
  while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
  // strtoll with no digits leaves endptr at the start of the string.
  const digits = text.slice(start, i);
  const rest = digits === '' ? text : text.slice(i);
  const n = digits === '' ? 0 : sign * Number(digits);
  if (rest.length > 1) return -1;
  const unit = rest.toLowerCase();
  const scale: Record<string, number> = { t: 2 ** 30, g: 2 ** 20, '': 1024, m: 1024, k: 1 };
  if (unit === 'b') return Math.floor(n / 1024);
  return unit in scale ? n * (scale[unit] as number) : -1;
}

describe("xl's memory sizes", () => {
  it('parseMemSizeKb agrees with a strtoll model on random sizes and junk', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc
            .tuple(
              fc.integer({ min: 0, max: 1 << 20 }),
              fc.constantFrom('', 'b', 'B', 'k', 'K', 'm', 'M', 'g', 'G', 't', 'T', 'q', 'mb', ' '),
            )
            .map(([n, u]) => `${n}${u}`),
          fc.string({ maxLength: 8 }),
        ),
        (text) => {
          expect(parseMemSizeKb(text)).toBe(model(text));
        },
      ),
      { numRuns: 2000 },
    );
    expect(parseMemSizeKb('256')).toBe(262144);
    expect(parseMemSizeKb('1g')).toBe(1048576);
    expect(parseMemSizeKb('2048k')).toBe(2048);
    expect(parseMemSizeKb('12q')).toBe(-1);
  });
});

describe('a guest writing garbage into its own VIF directory', () => {
  it('network-list shows -1 or "-" instead of the guest\'s text', async () => {
    const host = new Host({ memoryMiB: 64 });
    const front = host.createNativeDomain('f', 64);
    await host.drive(host.devices.attachVif(front.domid, {}));
    const xs = new XenstoreClient(inProcessTransport(host.xenstore, front.domid));
    const fe = `/local/domain/${front.domid}/device/vif/0`;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('mac', 'state', 'event-channel', 'tx-ring-ref', 'backend', 'handle'),
        fc.string({ maxLength: 30 }),
        async (key, value) => {
          await host.drive(xs.write(`${fe}/${key}`, value));
          const [row] = await host.drive(host.devices.networkList(front.domid));
          if (row !== undefined) {
            // Only printable ASCII reaches a terminal.
            for (const text of [row.mac, row.backendPath]) expect(text).toMatch(/^[ -~]*$/);
            for (const v of [row.state, row.evtch, row.txRingRef, row.handle])
              expect(Number.isInteger(v)).toBe(true);
            expect(row.mac === '-' || /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(row.mac)).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
    xs.close();
    await host.close();
  }, 60_000);
});
