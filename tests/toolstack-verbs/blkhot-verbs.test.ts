/**
 * `block-attach` and `block-detach` seen by a repository PV guest with a hot-plug blkfront
 * (`tests/guests/blkhot`), through a real daemon: the guest finds the new disk under
 * `device/vbd`, connects it and reads its first sector; `block-detach` takes it through
 * libxl's handshake (backend Closing, the guest closes, backend Closed) without needing force,
 * and a second disk on the same vdev is connected again.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host, parseDomainConfig, TypevisorDaemon } from '@typevisor/toolstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleTap, tv } from '../toolstack-cli/support.ts';

const BLKHOT = fileURLToPath(new URL('../guests/blkhot/blkhot-x86_64.elf', import.meta.url));

describe('block hot-plug observed by a PV guest', () => {
  let dir: string;
  let env: Record<string, string>;
  let daemon: TypevisorDaemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tv-blkhot-'));
    env = { TYPEVISOR_RUN_DIR: dir };
    for (const [name, text] of [
      ['one.img', 'FIRST HOT-PLUGGED DISK'],
      ['two.img', 'SECOND DISK, SAME VDEV'],
    ] as const) {
      const img = new Uint8Array(1 << 20);
      img.set(new TextEncoder().encode(text));
      writeFileSync(join(dir, name), img);
    }
    daemon = await TypevisorDaemon.start({
      socketPath: join(dir, 'typevisor.sock'),
      time: 'virtual',
      memoryMiB: 64,
    });
    writeFileSync(join(dir, 'h.cfg'), `name = "hot"\nkernel = "${BLKHOT}"\nmemory = 16\n`);
    expect((await tv(['create', join(dir, 'h.cfg')], env)).code).toBe(0);
  });

  afterAll(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the guest connects an attached disk, closes it on detach, and takes the next one', async () => {
    const con = await ConsoleTap.open(join(dir, 'typevisor.sock'), 'hot');
    await con.expect('blkhot: waiting for disks');
    let mark = con.text.length;
    expect((await tv(['block-attach', 'hot', 'one.img,raw,xvdb,rw'], env, dir)).code).toBe(0);
    await con.expect('blkhot: 51728 sector 0: FIRST HOT-PLUGGED DISK', mark);
    expect(con.text.slice(mark)).toContain('blkhot: 51728 connected, 2048 sectors');
    const rows = (await tv(['block-list', 'hot'], env)).out.trim().split('\n').slice(1);
    expect(rows.map((l) => l.split(/\s+/).slice(0, 4).join(' '))).toEqual(['51728 0 51728 4']);

    mark = con.text.length;
    const detach = await tv(['block-detach', 'hot', 'xvdb'], env);
    expect(detach).toMatchObject({ code: 0, err: '' }); // no "removed by force"
    await con.expect('blkhot: 51728 closed', mark);
    expect((await tv(['block-list', 'hot'], env)).out.trim().split('\n')).toHaveLength(1);

    mark = con.text.length;
    expect((await tv(['block-attach', 'hot', 'two.img,raw,xvdb,r'], env, dir)).code).toBe(0);
    await con.expect('blkhot: 51728 sector 0: SECOND DISK, SAME VDEV', mark);
    expect(daemon.host.lookup('hot').vcpu.crash).toBeNull();
    con.client.close();
  });
});

describe('the blkhot guest under Typevisor and under the real Xen 4.17', () => {
  it('prints the same lines for the same configuration (a disk present at boot)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tv-blkhot-ref-'));
    const img = new Uint8Array(1 << 20);
    img.set(new TextEncoder().encode('SECTOR ZERO READ BY BLKHOT'));
    writeFileSync(join(dir, 'blkhot.img'), img);
    const cfg = readFileSync(new URL('../guests/blkhot/xen-reference.cfg', import.meta.url), 'utf8')
      .replace(/^kernel = .*$/m, `kernel = "${BLKHOT}"`)
      .replace(/target=[^"]*/, `target=${join(dir, 'blkhot.img')}`);
    const golden = readFileSync(
      new URL('../guests/blkhot/golden-xen-4.17.txt', import.meta.url),
      'utf8',
    );
    const host = new Host();
    const dom = await host.createDomain(parseDomainConfig(cfg, 'xen-reference.cfg'));
    await host.run({
      until: () => dom.consoleText().includes('sector 0'),
      timeoutMs: 30_000,
      stopWhenIdle: false,
    });
    expect(dom.consoleText()).toBe(golden);
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
