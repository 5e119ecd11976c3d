/**
 * A `vif=` entry's xenstore entries against what libxl 4.17 wrote under the real Xen for the
 * same entry (`golden/libxl-4.17-vif-create.txt`: the xenstored trace of `xl create` with
 * `vif = [ "mac=00:16:3e:12:34:56,bridge=xenbr0,ip=10.1.1.2" ]`, recorded with
 * shared/tools/xen-reference; that dom0 has no netback, so its trace ends before the backend
 * connects). Every key libxl wrote has the same value and permissions here, and there are no
 * others (`hotplug-status` is then set to `connected`, as the vif-bridge script does).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Host, parseDomainConfig } from '@typevisor/toolstack';
import { describe, expect, it } from 'vitest';

const BALLOON = fileURLToPath(new URL('../guests/balloon/balloon-x86_64.elf', import.meta.url));
const GOLDEN = readFileSync(new URL('golden/libxl-4.17-vif-create.txt', import.meta.url), 'utf8');

describe("a vif= entry's xenstore entries", () => {
  it('are the keys, values and permissions libxl 4.17 writes', async () => {
    const host = new Host({ memoryMiB: 64 });
    const dom = await host.createDomain(
      parseDomainConfig(
        `name = "vifguest"\nkernel = "${BALLOON}"\nmemory = 32\nvif = [ "mac=00:16:3e:12:34:56,bridge=xenbr0,ip=10.1.1.2" ]\n`,
        'vif.cfg',
      ),
      { paused: true },
    );
    expect(dom.domid).toBe(1); // as in the recording
    const values = new Map<string, string>();
    const perms = new Map<string, string>();
    for (const line of GOLDEN.trim().split('\n')) {
      const m = /^(WRITE|SET_PERMS|MKDIR) \((\S+) ?(.*)\)$/.exec(line);
      if (m === null) throw new Error(`unexpected golden line ${line}`);
      const [, op, path, rest] = m as unknown as [string, string, string, string];
      if (op === 'WRITE') values.set(path, rest);
      else if (op === 'SET_PERMS') perms.set(path, rest.trim());
      else values.set(path, '');
    }
    values.set('/local/domain/0/backend/vif/1/0/hotplug-status', 'connected');
    // The backend's keys inherit the directory's permissions.
    for (const path of values.keys()) {
      if (!perms.has(path)) {
        const dir = [...perms.keys()]
          .filter((p) => path.startsWith(`${p}/`))
          .sort((a, b) => b.length - a.length)[0];
        if (dir !== undefined) perms.set(path, perms.get(dir) as string);
      }
    }
    for (const [path, value] of values) {
      // The netback has moved the backend on to InitWait by now.
      const want = path.endsWith('backend/vif/1/0/state') ? '2' : value;
      expect([path, await host.xs.readString(path)]).toEqual([path, want]);
      expect([path, (await host.xs.getPerms(path)).join(' ')]).toEqual([path, perms.get(path)]);
    }
    const ours = async (dir: string): Promise<string[]> =>
      (await host.xs.directory(dir)).map((k) => `${dir}/${k}`);
    const extra = [
      ...(await ours('/local/domain/1/device/vif/0')),
      ...(await ours('/local/domain/0/backend/vif/1/0')),
    ].filter((p) => !values.has(p));
    // Only what netback publishes itself (its features) is beyond libxl's keys.
    expect(extra.every((p) => /\/backend\/vif\/1\/0\/feature-/.test(p))).toBe(true);
    await host.close();
  });
});
