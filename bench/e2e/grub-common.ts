/**
 * Debian's unmodified 64-bit PV GRUB (grub-x86_64-xen.bin, package grub-xen-host) on the
 * toolstack's Host, end to end: how long from `createDomain` to GRUB's first console line and to
 * its prompt (virtual time, so the guest's work is the same every run; the figure is host wall
 * time), and how fast GRUB reads a 64 MiB file from an ext2 disk through blkfront/blkback
 * (`hashsum --hash crc32`), next to this machine reading the same image file directly.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host, type HostDomain, parseDomainConfig } from '@typevisor/toolstack';

const GRUB = '/usr/lib/grub-xen/grub-x86_64-xen.bin';

function config(disk?: string) {
  return parseDomainConfig(
    [
      'name = "bench"',
      `kernel = "${GRUB}"`,
      'memory = 64',
      ...(disk ? [`disk = [ "${disk},raw,xvda,w" ]`] : []),
    ].join('\n'),
    'bench.cfg',
  );
}

async function until(host: Host, dom: HostDomain, text: string, from = 0): Promise<void> {
  const r = await host.run({
    until: () => dom.consoleText().indexOf(text, from) >= 0,
    timeoutMs: 600_000,
    stopWhenIdle: false,
  });
  if (r !== 'until') throw new Error(`GRUB did not print "${text}" (${r})`);
}

/** Milliseconds from createDomain to the first console line, or to the prompt. */
export async function bootTime(to: 'line' | 'prompt'): Promise<number> {
  const t0 = performance.now();
  const host = new Host();
  const dom = await host.createDomain(config());
  await until(host, dom, to === 'line' ? '\n' : 'grub> ');
  const ms = performance.now() - t0;
  await host.close();
  return ms;
}

export const FILE_MIB = 64;
let image = '';
let dir = '';

function makeImage(): string {
  if (image) return image;
  dir = mkdtempSync(join(tmpdir(), 'grub-bench-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  const big = new Uint8Array(FILE_MIB * 1024 * 1024);
  let x = 0x12345678;
  for (let i = 0; i < big.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    big[i] = x & 0xff;
    big[i + 1] = (x >>> 8) & 0xff;
    big[i + 2] = (x >>> 16) & 0xff;
    big[i + 3] = x >>> 24;
  }
  writeFileSync(join(root, 'big.bin'), big);
  image = join(dir, 'disk.img');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext2', '-d', root, image, `${FILE_MIB + 16}M`]);
  return image;
}

/** MB/s of GRUB hashing the 64 MiB file (the prompt is reached first and not counted). */
export async function grubRead(): Promise<number> {
  const host = new Host();
  const dom = await host.createDomain(config(makeImage()));
  await until(host, dom, 'grub> ');
  const from = dom.consoleText().length;
  const t0 = performance.now();
  host.consoleInput(
    dom.domid,
    new TextEncoder().encode('hashsum --hash crc32 (xen/xvda)/big.bin\r'),
  );
  await until(host, dom, 'grub> ', from);
  const s = (performance.now() - t0) / 1000;
  const printed = dom.consoleText().slice(from);
  await host.close();
  if (!printed.includes('big.bin')) throw new Error('hashsum printed no result');
  return FILE_MIB / s;
}

/** MB/s of this process reading the same image file (the ceiling for a file-backed disk). */
export async function hostRead(): Promise<number> {
  const t0 = performance.now();
  const bytes = readFileSync(makeImage());
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i] ?? 0;
  const s = (performance.now() - t0) / 1000;
  if (sum < 0) throw new Error('unreachable');
  return bytes.length / 1048576 / s;
}

process.on('exit', () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});
