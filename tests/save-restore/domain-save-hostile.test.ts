/**
 * A per-domain save image is input from whoever hands the daemon a file (or connects to its
 * migration port): restoring a forged image must fail with a ToolstackError (never another
 * exception), leave no domain, frame, port or xenstore node behind, and leave the host able to
 * run its other domains. The forgeries keep valid checksums, so they reach the restore logic.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bytesSource,
  encodeHeader,
  encodeRecord,
  type Host,
  parseDomainConfig,
  REC_TYPE,
  readSaveStream,
  restoreDomainImage,
  type SaveRecord,
  saveDomainToBytes,
  ToolstackError,
} from '@typevisor/toolstack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { testEnv } from '../grub-boot/support.ts';

const GUEST_DIR = fileURLToPath(new URL('../pv-boot/guest/', import.meta.url));
const haveNasm = ['/usr/bin/nasm', '/usr/local/bin/nasm'].some((p) => existsSync(p));
const env = testEnv('domain-save-hostile-');

async function records(image: Uint8Array): Promise<SaveRecord[]> {
  const out: SaveRecord[] = [];
  for await (const r of readSaveStream(bytesSource(image))) out.push(r);
  return out;
}

function encode(recs: readonly SaveRecord[]): Uint8Array {
  const parts = [encodeHeader(), ...recs.map((r) => encodeRecord(r))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Sets `path` (keys and indices) inside a JSON value to `value`; false if the path is absent. */
function setAt(root: unknown, path: readonly (string | number)[], value: unknown): boolean {
  let o = root as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) {
    const next = o?.[path[i] as string | number];
    if (next === null || typeof next !== 'object') return false;
    o = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1] as string | number;
  if (o === null || typeof o !== 'object' || !(last in o)) return false;
  o[last] = value;
  return true;
}

const TARGETS: readonly [number, readonly (string | number)[]][] = [
  [REC_TYPE.DOMAIN_STATE, ['pfnRuns', 0, 0]],
  [REC_TYPE.DOMAIN_STATE, ['pfnRuns', 0, 1]],
  [REC_TYPE.DOMAIN_STATE, ['nrPages']],
  [REC_TYPE.DOMAIN_STATE, ['grantFrames']],
  [REC_TYPE.DOMAIN_STATE, ['frames', 0, 0]],
  [REC_TYPE.DOMAIN_STATE, ['frames', 0, 1]],
  [REC_TYPE.DOMAIN_STATE, ['frames', 3, 2]],
  [REC_TYPE.DOMAIN_STATE, ['layout', 'storePfn']],
  [REC_TYPE.DOMAIN_STATE, ['layout', 'startInfoPfn']],
  [REC_TYPE.DOMAIN_STATE, ['storePort']],
  [REC_TYPE.DOMAIN_STATE, ['guestType']],
  [REC_TYPE.DOMAIN_STATE, ['paging', 'vcpus', 0, 'basePfn']],
  [REC_TYPE.DOMAIN_STATE, ['paging', 'vcpus', 0, 'gdtPfns']],
  [REC_TYPE.DOMAIN_STATE, ['paging', 'guestWidth']],
  [REC_TYPE.VCPU_STATE, ['cpu', 'cr3']],
  [REC_TYPE.VCPU_STATE, ['id']],
  [REC_TYPE.VCPU_STATE, ['vcpu', 'trapTable']],
  [REC_TYPE.EVTCHN_STATE, ['maxPorts']],
  [REC_TYPE.EVTCHN_STATE, ['channels', 0, 'port']],
  [REC_TYPE.EVTCHN_STATE, ['channels', 0, 'state']],
  [REC_TYPE.EVTCHN_STATE, ['channels', 1, 'virq']],
  [REC_TYPE.EVTCHN_STATE, ['registeredVcpuInfo']],
  [REC_TYPE.GNTTAB_STATE, ['nrFrames']],
  [REC_TYPE.TIMER_STATE, ['timers', 0, 'vcpu']],
  [REC_TYPE.TIMER_STATE, ['timers', 0, 'periodNs']],
  [REC_TYPE.DEVICE_STATE, ['nodes', 0, 'path']],
  [REC_TYPE.DEVICE_STATE, ['nodes', 2, 'perms']],
];

const hostile = fc.oneof(
  fc.integer({ min: -2, max: 3 }),
  fc.integer({ min: 0, max: 0x7fffffff }),
  fc.constantFrom(-1, 0x7ff0, 1 << 20, 2 ** 53, Number.NaN, 0.5),
  fc.string({ maxLength: 8 }),
  fc.constant(null),
  fc.array(fc.integer({ min: -1, max: 5000 }), { maxLength: 3 }),
);

describe.skipIf(!haveNasm && !process.env.CI)('restoring forged domain images', () => {
  env.install();

  it('refuses them with a ToolstackError and leaves the host as it was', {
    timeout: 240_000,
  }, async () => {
    execFileSync('sh', [join(GUEST_DIR, 'build.sh'), env.dir]);
    const cfg = (name: string) =>
      parseDomainConfig(
        `name = "${name}"\nkernel = "${join(env.dir, 'pv-count.elf')}"\nmemory = 16\n`,
        `${name}.cfg`,
      );
    const src = env.newHost({ memoryMiB: 64 });
    await src.createDomain(cfg('victim'));
    await src.run({ maxInstructions: 2_000_000, stopWhenIdle: false });
    const { image } = await saveDomainToBytes(src, 'victim');
    const good = await records(image);
    const target: Host = env.newHost({ memoryMiB: 64 });
    const bystander = await target.createDomain(cfg('bystander'));
    const free = target.machine.frames.freeFrames;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(TARGETS.length - 1), hostile), { minLength: 1, maxLength: 3 }),
        async (mutations) => {
          const freeBefore = target.machine.frames.freeFrames;
          const recs = structuredClone(good);
          for (const [t, value] of mutations) {
            const [type, path] = TARGETS[t] as (typeof TARGETS)[number];
            const rec = recs.find((r) => r.type === type && 'json' in r);
            if (rec !== undefined && 'json' in rec) setAt(rec.json, path, value);
          }
          const err = await restoreDomainImage(target, encode(recs)).then(
            async (dom) => {
              accepted++;
              await target.destroyDomain(dom.domid);
              return undefined;
            },
            (e: unknown) => e,
          );
          if (err !== undefined) expect(err).toBeInstanceOf(ToolstackError);
          expect([...target.domains.keys()]).toEqual([bystander.domid]);
          expect(target.machine.frames.freeFrames).toBe(freeBefore);
        },
      ),
      { numRuns: 60 },
    );
    expect(target.machine.frames.freeFrames).toBe(free);
    // The bystander still runs, and the untouched image still restores.
    const before = bystander.instructions;
    await target.run({ maxInstructions: 1_000_000, stopWhenIdle: false });
    expect(bystander.instructions).toBeGreaterThan(before);
    const dom = await restoreDomainImage(target, image);
    expect(dom.name).toBe('victim');
    expect(accepted).toBeLessThan(60);
  });
});
