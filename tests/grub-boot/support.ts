/**
 * Helpers for booting Debian's unmodified GRUB PV images on the toolstack's Host.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host, type HostDomain, type HostOptions, parseDomainConfig } from '@typevisor/toolstack';
import { afterAll, afterEach, beforeAll } from 'vitest';

/** Debian's prebuilt PV GRUB images (package grub-xen-host). */
export const GRUB_X86_64 = '/usr/lib/grub-xen/grub-x86_64-xen.bin';
export const GRUB_I386 = '/usr/lib/grub-xen/grub-i386-xen.bin';

/** Whether the tools these tests need are installed (under CI=true they must be). */
export const haveGrub: boolean = existsSync(GRUB_X86_64);
export const haveMke2fs: boolean = ['/usr/sbin/mke2fs', '/sbin/mke2fs', '/usr/bin/mke2fs'].some(
  (p) => existsSync(p),
);

/** The golden outputs of the real Xen 4.17 (see golden/README.md for the commands). */
export const GOLDEN_DIR: string = fileURLToPath(new URL('./golden/', import.meta.url));

export function golden(name: string): string {
  return readFileSync(join(GOLDEN_DIR, name), 'latin1');
}

/** A test file's temporary directory and hosts, cleaned up by the hooks {@link TestEnv.install} adds. */
export interface TestEnv {
  /** The temporary directory (set before the first test). */
  dir: string;
  /** A new Host, closed after the test. */
  newHost(options?: HostOptions): Host;
  /** Closes `host` after the test too; returns it. */
  track(host: Host): Host;
  /** Adds the hooks: make the directory, close hosts after each test, remove the directory. */
  install(): void;
}

/** A {@link TestEnv} whose directory name starts with `prefix`. */
export function testEnv(prefix: string): TestEnv {
  const hosts: Host[] = [];
  const env: TestEnv = {
    dir: '',
    newHost: (options) => env.track(new Host(options)),
    track: (host) => {
      hosts.push(host);
      return host;
    },
    install: () => {
      beforeAll(() => {
        env.dir = tempDir(prefix);
      });
      afterEach(async () => {
        for (const h of hosts.splice(0)) await h.close();
      });
      afterAll(() => {
        rmSync(env.dir, { recursive: true, force: true });
      });
    },
  };
  return env;
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Builds an ext2 image of `sizeMiB` with `mke2fs -d` from `files` (path → content) and returns
 * its path.
 */
export function makeExt2(
  dir: string,
  name: string,
  files: Record<string, string | Uint8Array>,
  sizeMiB = 8,
): string {
  const root = join(dir, `${name}.root`);
  for (const [path, content] of Object.entries(files)) {
    const p = join(root, path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  mkdirSync(root, { recursive: true });
  const image = join(dir, `${name}.img`);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext2', '-d', root, image, `${sizeMiB}M`], {
    stdio: 'pipe',
  });
  return image;
}

/** An xl config for GRUB with `disks` (xl disk specs) and extra lines. */
export function grubConfig(
  options: { name?: string; disks?: readonly string[]; extra?: string; kernel?: string } = {},
) {
  const disks = (options.disks ?? []).map((d) => `"${d}"`).join(', ');
  const text = [
    `name = "${options.name ?? 'grub'}"`,
    'uuid = "54797065-7669-736f-7200-000000000001"',
    'type = "pv"',
    `kernel = "${options.kernel ?? GRUB_X86_64}"`,
    'memory = 64',
    'vcpus = 1',
    ...(disks ? [`disk = [ ${disks} ]`] : []),
    options.extra ?? '',
  ].join('\n');
  return parseDomainConfig(text, 'grub.cfg');
}

/** Runs the host until the domain's console output after `from` contains `text`. */
export async function waitForConsole(
  host: Host,
  dom: HostDomain,
  text: string,
  from = 0,
  timeoutMs = 300_000,
): Promise<string> {
  const r = await host.run({
    until: () => dom.consoleText().indexOf(text, from) >= 0,
    timeoutMs,
    stopWhenIdle: false,
  });
  const out = dom.consoleText().slice(from);
  if (r !== 'until') {
    const why = dom.vcpu.crash?.message ?? dom.shutdownName ?? '';
    throw new Error(
      `no "${text}" on the console (${r}, state ${dom.state} ${why}): ${JSON.stringify(out)}`,
    );
  }
  return out;
}

/** Types `line` and Enter into the console; returns the console output up to the next prompt. */
export async function typeCommand(host: Host, dom: HostDomain, line: string): Promise<string> {
  const from = dom.consoleText().length;
  const bytes = new TextEncoder().encode(`${line}\r`);
  for (let i = 0; i < bytes.length; ) {
    const n = host.consoleInput(dom.domid, bytes.subarray(i));
    i += n;
    if (i < bytes.length) await host.run({ maxInstructions: 100_000, stopWhenIdle: false });
  }
  return waitForConsole(host, dom, 'grub> ', from);
}

/**
 * Removes what depends on timing from GRUB's console: the file-progress boxes
 * (`ESC[r;cH      [ name  size  100%  rate ]ESC[r;1H`), whose rate and centring column vary.
 */
export function normaliseConsole(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: GRUB's ANSI escapes
    /\x1b\[(\d+);\d+H {6}\[ (\S+) {2}(\S+) {2}100% {2}[^\]]*\]\x1b\[\d+;\d+H/g,
    '<progress $2 $3>',
  );
}

/** {@link normaliseConsole}'s progress markers removed (for content that a box interrupts). */
export function withoutProgress(text: string): string {
  return text.replace(/<progress \S+ \S+>/g, '');
}

/** The text a terminal would show: escape sequences and carriage returns dropped. */
export function plainText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
}
