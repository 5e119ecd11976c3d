import { describe, expect, it } from 'vitest';
import {
  waitForState,
  type XenstoreClientLike,
  type XenstoreWatchLike,
  xenbusClientFromXenstore,
} from '../src/index.ts';
import { MemoryXenstore } from '../src/testing/index.ts';

class Enoent extends Error {
  readonly errno = 'ENOENT';
}

/** A xenstore client with XenstoreClient's conventions (ENOENT errors, iterator watches) over MemoryXenstore. */
function strictClient(xs: MemoryXenstore): XenstoreClientLike {
  const c = xs.client();
  return {
    readString: async (p) => {
      const v = await c.read(p);
      if (v === undefined) throw new Enoent(p);
      return v;
    },
    write: (p, v) => c.write(p, v),
    directory: async (p) => {
      if (xs.get(p) === undefined) throw new Enoent(p);
      return c.directory(p);
    },
    rm: async (p) => {
      if (xs.get(p) === undefined) throw new Enoent(p);
      await c.remove(p);
    },
    watch: async (p) => {
      const queue: { path: string }[] = [];
      let wake: (() => void) | undefined;
      let closed = false;
      const unwatch = await c.watch(p, (path) => {
        queue.push({ path });
        wake?.();
      });
      const it: XenstoreWatchLike = {
        async next() {
          while (queue.length === 0 && !closed) await new Promise<void>((r) => (wake = r));
          const v = queue.shift();
          return v === undefined ? { value: undefined, done: true } : { value: v, done: false };
        },
        async close() {
          closed = true;
          wake?.();
          await unwatch();
        },
        [Symbol.asyncIterator]() {
          return it;
        },
      };
      return it;
    },
  };
}

describe('xenstore adapter', () => {
  it('maps ENOENT to undefined reads, empty directories and quiet removes', async () => {
    const xs = new MemoryXenstore();
    const c = xenbusClientFromXenstore(strictClient(xs));
    expect(await c.read('/nope')).toBeUndefined();
    expect(await c.directory('/nope')).toEqual([]);
    await c.remove('/nope');
    await c.write('/a/b', 'x');
    expect(await c.read('/a/b')).toBe('x');
    expect(await c.directory('/a')).toEqual(['b']);
  });

  it('turns iterator watches into callbacks that waitForState can use', async () => {
    const xs = new MemoryXenstore();
    const c = xenbusClientFromXenstore(strictClient(xs));
    const reached = waitForState(c, '/dev', (s) => s === 4);
    await c.write('/dev/state', '2');
    await c.write('/dev/state', '4');
    expect(await reached).toBe(4);
  });

  it('passes other errors through', async () => {
    const failing: XenstoreClientLike = {
      ...strictClient(new MemoryXenstore()),
      readString: () => Promise.reject(new Error('EACCES')),
    };
    await expect(xenbusClientFromXenstore(failing).read('/x')).rejects.toThrow('EACCES');
  });
});
