/**
 * Differential tests: the same request scripts go to Debian's C xenstored (through
 * shared/tools/reference-xenstored) and to Typevisor's daemon; replies, error strings,
 * watch events and their order must match.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Daemon, haveReference, startReference, startTypevisor } from './helpers/daemons.ts';
import { runScript, type Step } from './helpers/script.ts';

const HANDWRITTEN: Step[] = [
  [0, 'READ', 'foo\0'],
  [0, 'WRITE', 'foo\0bar'],
  [0, 'READ', 'foo\0'],
  [0, 'READ', '/\0'],
  [0, 'DIRECTORY', '/\0'],
  [0, 'GET_PERMS', '/\0'],
  [0, 'GET_PERMS', '/tool/xenstored\0'],
  [0, 'GET_PERMS', '@releaseDomain\0'],
  [0, 'READ', '/nope\0'],
  [0, 'READ', '/nope'],
  [0, 'READ', '/a\0\0'],
  [0, 'READ', '\0'],
  [0, 'WRITE', '/a\0'],
  [0, 'WRITE', '/a'],
  [0, 'WRITE', '\0x'],
  [0, 'WRITE', '@foo\0x'],
  [0, 'READ', '/a/\0'],
  [0, 'READ', '/a//b\0'],
  [0, 'READ', '/a b\0'],
  [0, 'READ', '/a\x80\0'],
  [0, 'RM', '/\0'],
  [0, 'RM', '/x/y\0'],
  [0, 'RM', '/a/zz\0'],
  [0, 'MKDIR', '/a\0'],
  [0, 'MKDIR', '/m/n/o\0'],
  [0, 'DIRECTORY', '/m\0'],
  [0, 'WRITE', '/b/c/d\0x'],
  [0, 'WRITE', '/b/a\0x'],
  [0, 'WRITE', '/b/0\0x'],
  [0, 'DIRECTORY', '/b\0'],
  [0, 'DIRECTORY_PART', '/b\0'],
  [0, 'DIRECTORY_PART', '/b\x000\0'],
  [0, 'DIRECTORY_PART', '/b\x002\0'],
  [0, 'DIRECTORY_PART', '/b\x0099\0'],
  [0, 'DIRECTORY_PART', '/b\x00x\0'],
  [0, 'DIRECTORY_PART', '/b\x00-1\0'],
  [0, 'DIRECTORY_PART', '/nope\x000\0'],
  [0, 'GET_DOMAIN_PATH', '5\0'],
  [0, 'GET_DOMAIN_PATH', 'x\0'],
  [0, 'GET_DOMAIN_PATH', '\0'],
  [0, 'IS_DOMAIN_INTRODUCED', '5\0'],
  [0, 'IS_DOMAIN_INTRODUCED', '0\0'],
  [0, 'SET_PERMS', '/b\0r5\0'],
  [0, 'SET_PERMS', '/b\0x5\0'],
  [0, 'SET_PERMS', '/b\0'],
  [0, 'SET_PERMS', '/b\0b3\0n4\0'],
  [0, 'GET_PERMS', '/b\0'],
  [0, 'WRITE', '/b/new\0'],
  [0, 'GET_PERMS', '/b/new\0'],
  [0, 'GET_PERMS', '/b/c/d\0'],
  [0, 'SET_PERMS', '/b\0r\0'],
  [0, 'SET_PERMS', '/b\0r99999\0'],
  [0, 'GET_PERMS', '/b\0'],
  [0, 'SET_PERMS', '/b\0r-1\0'],
  [0, 'GET_PERMS', '/b\0'],
  [0, 'SET_PERMS', '/b\0r4294967295\0'],
  [0, 'GET_PERMS', '/b\0'],
  [0, 'SET_PERMS', '/b\0r0x10\0w010\0'],
  [0, 'GET_PERMS', '/b\0'],
  [0, 'SET_PERMS', '/b\0r1x\0'],
  [0, 'SET_PERMS', '/b\0r0\0r1\0r2\0r3\0r4\0r5\0r6\0'],
  [0, 'SET_PERMS', '/nope/x\0r0\0'],
  [0, 'SET_PERMS', '@releaseDomain\0r0\0'],
  [0, 'SET_PERMS', '@bogus\0r0\0'],
  [0, 'TRANSACTION_START', '\0'],
  [0, 'TRANSACTION_START', '\0'],
  [0, 'WRITE', '/t1\0a', 1],
  [0, 'READ', '/t1\0', 1],
  [0, 'READ', '/t1\0'],
  [0, 'TRANSACTION_END', 'T\0', 1],
  [0, 'TRANSACTION_END', 'T\0', 1],
  [0, 'READ', '/t1\0', 7],
  [0, 'TRANSACTION_END', 'X\0', 2],
  [0, 'TRANSACTION_END', '\0', 2],
  [0, 'TRANSACTION_END', 'F\0', 2],
  [0, 'TRANSACTION_START', 'junk\0'],
  [0, 'TRANSACTION_START', '\0', 5],
  [0, 'TRANSACTION_START', '\0', 3],
  [0, 'TRANSACTION_END', 'T\0'],
  [0, 'WATCH', '/x\0t\0', 99],
  [0, 'UNWATCH', '/x\0t\0', 99],
  [0, 'GET_DOMAIN_PATH', '1\0', 99],
  [0, 'CONTROL', 'print\0x\0', 99],
  [0, 'DIRECTORY', '/\0', 99],
  [0, 'WATCH_EVENT', 'x\0'],
  [0, 'ERROR', 'x\0'],
  [0, 20, 'x\0'],
  [0, 23, 'x\0'],
  [0, 99, 'x\0'],
  [0, 0xffff, ''],
  [0, 'CONTROL', '\0'],
  [0, 'CONTROL', 'bogus\0'],
  [0, 'CONTROL', 'print\0'],
  [0, 'CONTROL', 'print\0hello\0'],
  [0, 'CONTROL', 'print\0a\0b\0'],
  [0, 'CONTROL', 'log\0'],
  [0, 'CONTROL', 'quota\0'],
  [0, 'CONTROL', 'quota\x007\0'],
  [0, 'RESET_WATCHES', ''],
  [0, 'RESET_WATCHES', 'abc\0'],
];

const WATCHES: Step[] = [
  [0, 'WATCH', '@introduceDomain\0tokI\0'],
  [0, 'WATCH', '@releaseDomain\0tokR\0'],
  [0, 'WATCH', '/w\0tw\0'],
  [0, 'WATCH', '/w\0tw\0'],
  [0, 'WATCH', '/w\0tw\0extra\0'],
  [0, 'WATCH', '/w\0'],
  [0, 'WATCH', 'w\0rel\0'],
  [0, 'WATCH', '/bad//path\0t\0'],
  [2, 'WATCH', '/\0root\0'],
  [1, 'WRITE', '/w/x/y\0v'],
  [1, 'INTRODUCE', '7\x00123\x005\0'],
  [1, 'INTRODUCE', '7\x00123\x005\0'],
  [1, 'INTRODUCE', '7\x00124\x005\0'],
  [1, 'INTRODUCE', '8\x00123\0'],
  [1, 'INTRODUCE', 'x\x00123\x005\0'],
  [1, 'IS_DOMAIN_INTRODUCED', '7\0'],
  [1, 'SET_TARGET', '7\x000\0'],
  [1, 'SET_TARGET', '7\x009\0'],
  [1, 'SET_TARGET', '7\0'],
  [1, 'RESUME', '7\0'],
  [1, 'RESUME', '9\0'],
  [1, 'RELEASE', '7\0'],
  [1, 'RELEASE', '7\0'],
  [1, 'RELEASE', '0\0'],
  [1, 'WRITE', '/local/domain/0/w/z\0v'],
  [1, 'WRITE', '/w/x/y/z\0v'],
  [1, 'WRITE', '/w/x/q\0v'],
  [0, 'WATCH', '/w/x/y\0deep\0'],
  [0, 'WATCH', '/w/x\0deep\0'],
  [0, 'WATCH', 'w/x\0deep\0'],
  [1, 'WRITE', '/w/x/y\0same token twice'],
  [1, 'RM', '/w\0'],
  [0, 'WRITE', '/w/q\0v'],
  [0, 'UNWATCH', '/w\0tw\0'],
  [0, 'UNWATCH', '/w\0tw\0'],
  [1, 'TRANSACTION_START', '\0'],
  [1, 'WRITE', '/w/t\0v', 1],
  [1, 'WRITE', '/w/t\0v2', 1],
  [1, 'RM', '/w/q\0', 1],
  [1, 'MKDIR', '/w/m\0', 1],
  [0, 'WATCH', '/w\0tw2\0'],
  [1, 'TRANSACTION_END', 'T\0', 1],
  [1, 'SET_PERMS', '/w/t\0r3\0'],
  [0, 'RESET_WATCHES', '\0'],
  [1, 'WRITE', '/w/q\0v'],
];

const CONFLICTS: Step[] = [
  [0, 'WRITE', '/c/a\x001'],
  [0, 'TRANSACTION_START', '\0'],
  [1, 'TRANSACTION_START', '\0'],
  [0, 'READ', '/c/a\0', 1],
  [1, 'WRITE', '/c/a\0x', 1],
  [1, 'TRANSACTION_END', 'T\0', 1],
  [0, 'WRITE', '/c/b\0y', 1],
  [0, 'TRANSACTION_END', 'T\0', 1],
  [0, 'READ', '/c/b\0'],
  // Two transactions creating different children of one parent conflict on the parent.
  [0, 'TRANSACTION_START', '\0'],
  [1, 'TRANSACTION_START', '\0'],
  [0, 'WRITE', '/c/n1\0a', 2],
  [1, 'WRITE', '/c/n2\0b', 2],
  [0, 'TRANSACTION_END', 'T\0', 2],
  [1, 'TRANSACTION_END', 'T\0', 2],
  // Reading a missing node, then someone creates it.
  [0, 'TRANSACTION_START', '\0'],
  [0, 'READ', '/c/later\0', 3],
  [1, 'WRITE', '/c/later\0z'],
  [0, 'TRANSACTION_END', 'T\0', 3],
  // Writes to unrelated nodes do not conflict.
  [0, 'TRANSACTION_START', '\0'],
  [0, 'WRITE', '/c/a\0q', 4],
  [1, 'WRITE', '/c/b\0r'],
  [0, 'TRANSACTION_END', 'T\0', 4],
  // A transaction sees its own writes and deletions.
  [0, 'TRANSACTION_START', '\0'],
  [0, 'RM', '/c\0', 5],
  [0, 'READ', '/c/a\0', 5],
  [0, 'DIRECTORY', '/\0', 5],
  [0, 'MKDIR', '/c/z\0', 5],
  [0, 'DIRECTORY', '/c\0', 5],
  [0, 'TRANSACTION_END', 'T\0', 5],
  [0, 'DIRECTORY', '/c\0'],
];

const long = (n: number) => 'a'.repeat(n);
const EDGES: Step[] = [
  [0, 'GET_DOMAIN_PATH', '-1\0'],
  [0, 'GET_DOMAIN_PATH', '  7x\0'],
  [0, 'GET_DOMAIN_PATH', '4294967297\0'],
  [0, 'IS_DOMAIN_INTRODUCED', '-1\0'],
  [0, 'INTRODUCE', '-5\x001\x001\0'],
  [0, 'IS_DOMAIN_INTRODUCED', '-5\0'],
  [0, 'RELEASE', '-5\0'],
  [0, 'INTRODUCE', '9\x00x\x00y\0'],
  [0, 'INTRODUCE', '9\x001\x000\0'],
  [0, 'INTRODUCE', '9\x001\x00-3\0'],
  [0, 'INTRODUCE', '9\x001\x0099999999999999999999\0'],
  [0, 'GET_DOMAIN_PATH', '99999999999999999999\0'],
  [0, 'GET_DOMAIN_PATH', '-99999999999999999999\0'],
  [0, 'IS_DOMAIN_INTRODUCED', '9\0'],
  [0, 'WRITE', '/e\0'],
  [0, 'SET_PERMS', '/e\0r+5\0'],
  [0, 'GET_PERMS', '/e\0'],
  [0, 'SET_PERMS', '/e\0r 5\0'],
  [0, 'GET_PERMS', '/e\0'],
  [0, 'SET_PERMS', '/e\0r0x1f\0w07\0b-0\0'],
  [0, 'GET_PERMS', '/e\0'],
  [0, 'SET_PERMS', '/e\0r5 \0'],
  [0, 'SET_PERMS', '/e\0R5\0'],
  [0, 'SET_PERMS', '/e\0n0\0\0'],
  [0, 'SET_PERMS', '/e\0n0\0trailing'],
  [0, 'GET_PERMS', '/e\0'],
  [0, 'WRITE', `/${long(2047)}\0x`],
  [0, 'WRITE', `/${long(2048)}\0x`],
  [0, 'WRITE', `/local/domain/12/${long(2047)}\0x`],
  [0, 'WRITE', `/local/domain/12/${long(2048)}\0x`],
  [0, 'WRITE', `/local/domain/123456/${long(2030)}\0x`],
  [0, 'WRITE', `/local/domain/12345/${long(2048)}\0x`],
  [0, 'RM', `/${long(2047)}\0`],
  [0, 'RM', '/local\0'],
  [0, 'WRITE', `/v\0${long(4093)}`],
  [0, 'READ', '/v\0'],
  [0, 'WATCH', `@${long(2048)}\0t\0`],
  [0, 'WATCH', `@${long(2047)}\0t\0`],
  [0, 'WATCH', '@any\0t\0'],
  [0, 'WATCH', '/bad path\0t\0'],
  [0, 'WATCH', '\0t\0'],
  [0, 'WATCH', 'rel/w\0t\0'],
  [0, 'UNWATCH', '/local/domain/0/rel/w\0t\0'],
  [0, 'UNWATCH', 'rel/w\0t\0'],
  [0, 'UNWATCH', '@any\0t\0'],
  [0, 'UNWATCH', '@any\0t\0'],
  [0, 'MKDIR', '/dp\0'],
  ...Array.from(
    { length: 200 },
    (_, i) => [0, 'MKDIR', `/dp/child-with-quite-a-long-name-${i}\0`] as Step,
  ),
  [0, 'DIRECTORY', '/dp\0'],
  [0, 'DIRECTORY_PART', '/dp\x000\0'],
  [0, 'DIRECTORY_PART', '/dp\x004000\0'],
  [0, 'DIRECTORY_PART', '/dp\x005\0'],
  [0, 'DIRECTORY_PART', '/dp\x0099999\0'],
  [0, 'TRANSACTION_START', '\0'],
  [0, 'DIRECTORY', '/dp\0', 1],
  [0, 'RM', '/dp\0', 1],
  [0, 'DIRECTORY_PART', '/dp\x000\0', 1],
  [0, 'TRANSACTION_END', 'T\0', 1],
  [0, 'TRANSACTION_START', '\0'],
  [0, 'TRANSACTION_START', '\0'],
  [0, 'TRANSACTION_START', '\0'],
  [0, 'TRANSACTION_END', 'F\0', 3],
  [0, 'TRANSACTION_START', '\0'],
  [0, 'RESET_WATCHES', '\0'],
  [0, 'TRANSACTION_END', 'T\0', 2],
  [0, 'TRANSACTION_START', '\0'],
];

describe.skipIf(!haveReference && !process.env.CI)(
  'differential tests against the C xenstored',
  () => {
    let ref: Daemon;
    let tv: Daemon;
    beforeAll(async () => {
      ref = startReference();
      tv = await startTypevisor();
    }, 300_000);
    afterAll(async () => {
      await ref?.stop();
      await tv?.stop();
    });

    it('answers basic operations and malformed arguments the same way', async () => {
      expect(await runScript(tv.socket, 1, HANDWRITTEN)).toEqual(
        await runScript(ref.socket, 1, HANDWRITTEN),
      );
    });

    it('agrees on limits, odd numbers, special paths and long listings', async () => {
      expect(await runScript(tv.socket, 1, EDGES)).toEqual(await runScript(ref.socket, 1, EDGES));
    });

    it('delivers the same watch events in the same order', async () => {
      expect(await runScript(tv.socket, 3, WATCHES)).toEqual(
        await runScript(ref.socket, 3, WATCHES),
      );
    });

    it('commits or fails transactions with EAGAIN in the same places', async () => {
      expect(await runScript(tv.socket, 2, CONFLICTS)).toEqual(
        await runScript(ref.socket, 2, CONFLICTS),
      );
    });

    it('agrees on random request sequences from several connections', async () => {
      const seg = fc.constantFrom('a', 'b', 'c');
      const path = fc.array(seg, { minLength: 1, maxLength: 3 });
      const step = (prefix: string) =>
        fc.oneof(
          fc
            .tuple(fc.nat(2), path, fc.constantFrom('', 'v', 'xyz'))
            .map(([c, p, v]) => [c, 'WRITE', `${prefix}/${p.join('/')}\0${v}`] as Step),
          fc
            .tuple(fc.nat(2), path)
            .map(([c, p]) => [c, 'READ', `${prefix}/${p.join('/')}\0`] as Step),
          fc
            .tuple(fc.nat(2), path)
            .map(([c, p]) => [c, 'RM', `${prefix}/${p.join('/')}\0`] as Step),
          fc
            .tuple(fc.nat(2), path)
            .map(([c, p]) => [c, 'MKDIR', `${prefix}/${p.join('/')}\0`] as Step),
          fc
            .tuple(fc.nat(2), path)
            .map(([c, p]) => [c, 'DIRECTORY', `${prefix}/${p.join('/')}\0`] as Step),
          fc
            .tuple(fc.nat(2), path, fc.constantFrom('n0\0', 'r1\0b2\0', 'w0\0r3\0'))
            .map(([c, p, v]) => [c, 'SET_PERMS', `${prefix}/${p.join('/')}\0${v}`] as Step),
          fc
            .tuple(fc.nat(2), path)
            .map(([c, p]) => [c, 'GET_PERMS', `${prefix}/${p.join('/')}\0`] as Step),
          fc
            .tuple(fc.nat(2), path, fc.constantFrom('t1', 't2'))
            .map(([c, p, t]) => [c, 'WATCH', `${prefix}/${p.join('/')}\0${t}\0`] as Step),
          fc
            .tuple(fc.nat(2), path, fc.constantFrom('t1', 't2'))
            .map(([c, p, t]) => [c, 'UNWATCH', `${prefix}/${p.join('/')}\0${t}\0`] as Step),
          fc.nat(2).map((c) => [c, 'TRANSACTION_START', '\0'] as Step),
          fc
            .tuple(fc.nat(2), fc.integer({ min: 1, max: 3 }), fc.constantFrom('T', 'F'))
            .map(([c, tx, v]) => [c, 'TRANSACTION_END', `${v}\0`, tx] as Step),
          fc
            .tuple(fc.nat(2), fc.integer({ min: 1, max: 3 }), path, fc.constantFrom('1', '2'))
            .map(([c, tx, p, v]) => [c, 'WRITE', `${prefix}/${p.join('/')}\0${v}`, tx] as Step),
          fc
            .tuple(fc.nat(2), fc.integer({ min: 1, max: 3 }), path)
            .map(([c, tx, p]) => [c, 'READ', `${prefix}/${p.join('/')}\0`, tx] as Step),
          fc
            .tuple(fc.nat(2), fc.integer({ min: 1, max: 3 }), path)
            .map(([c, tx, p]) => [c, 'RM', `${prefix}/${p.join('/')}\0`, tx] as Step),
          fc
            .tuple(fc.nat(2), fc.integer({ min: 1, max: 3 }), path)
            .map(([c, tx, p]) => [c, 'DIRECTORY', `${prefix}/${p.join('/')}\0`, tx] as Step),
          fc
            .tuple(fc.nat(2), fc.integer({ min: 0, max: 3 }), path)
            .map(([c, tx, p]) => [c, 'MKDIR', `${prefix}/${p.join('/')}\0`, tx] as Step),
          fc
            .tuple(fc.nat(2), fc.integer({ min: 0, max: 3 }), path, fc.constantFrom('0', '2', '99'))
            .map(
              ([c, tx, p, o]) =>
                [c, 'DIRECTORY_PART', `${prefix}/${p.join('/')}\0${o}\0`, tx] as Step,
            ),
          fc
            .tuple(
              fc.nat(2),
              fc.integer({ min: 0, max: 3 }),
              path,
              fc.constantFrom('r1\0', 'n0\0b7\0'),
            )
            .map(([c, tx, p, v]) => [c, 'SET_PERMS', `${prefix}/${p.join('/')}\0${v}`, tx] as Step),
          fc
            .tuple(fc.nat(2), fc.integer({ min: 0, max: 3 }), path)
            .map(([c, tx, p]) => [c, 'GET_PERMS', `${prefix}/${p.join('/')}\0`, tx] as Step),
          fc.nat(2).map((c) => [c, 'RESET_WATCHES', '\0'] as Step),
          // Memory accounting, open transactions' node copies included.
          fc.nat(2).map((c) => [c, 'CONTROL', 'quota\x000\0'] as Step),
        );
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(step('/r'), { minLength: 5, maxLength: 40 }), async (steps) => {
          run++;
          const prefix = `/r${run}`;
          const mine = steps.map(([c, t, p, tx]) => [c, t, p.replace(/^\/r/, prefix), tx] as Step);
          const cleanup: Step = [0, 'RM', `${prefix}\0`];
          const a = await runScript(tv.socket, 3, [...mine, cleanup]);
          const b = await runScript(ref.socket, 3, [...mine, cleanup]);
          expect(a).toEqual(b);
        }),
        { numRuns: Number(process.env.XS_DIFF_RUNS ?? 400) },
      );
    }, 120_000);
  },
);
