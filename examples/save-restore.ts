/**
 * Save a running domain to a file and restore it on another host that already runs a domain:
 * the `typevisor save` and `restore` verbs against two daemons. The guest is the repository's
 * counter guest (tests/pv-boot/guest, assembled with nasm), which prints `tick N` forever; after
 * the restore it carries on from where it was, under a new domain ID, on new machine frames.
 *
 * Run: pnpm tsx --conditions=@typevisor/source examples/save-restore.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HostDomain, runVerb, TypevisorDaemon } from '@typevisor/toolstack';

const dir = mkdtempSync(join(tmpdir(), 'typevisor-save-'));
execFileSync('sh', [
  fileURLToPath(new URL('../tests/pv-boot/guest/build.sh', import.meta.url)),
  dir,
]);
writeFileSync(join(dir, 'count.cfg'), 'name = "count"\nkernel = "pv-count.elf"\nmemory = 32\n');
writeFileSync(join(dir, 'other.cfg'), 'name = "other"\nkernel = "pv-count.elf"\nmemory = 16\n');

/** Runs a `typevisor` verb in-process against the daemon on `socket`. */
const tv = (socket: string, ...args: string[]): Promise<string> =>
  runVerb(args, { env: { TYPEVISOR_SOCKET: socket }, cwd: dir });

const ticks = (d: HostDomain): number[] =>
  [...d.xenConsoleText().matchAll(/tick 0x([0-9a-f]+)\n/g)].map((m) =>
    Number.parseInt(m[1] ?? '', 16),
  );
async function waitTicks(d: HostDomain, n: number): Promise<void> {
  while (ticks(d).length < n) await new Promise((r) => setTimeout(r, 10));
}

const a = await TypevisorDaemon.start({ socketPath: join(dir, 'a.sock'), memoryMiB: 128 });
const b = await TypevisorDaemon.start({ socketPath: join(dir, 'b.sock'), memoryMiB: 128 });
try {
  await tv(a.socketPath, 'create', '-q', 'count.cfg');
  const dom = a.host.lookup('count');
  await waitTicks(dom, 3);
  console.log(`A: typevisor create count.cfg -> domain ${dom.domid}, counting`);
  await tv(a.socketPath, 'save', 'count', 'count.save');
  const saved = ticks(dom);
  console.log(
    `A: typevisor save count count.save -> ${statSync(join(dir, 'count.save')).size > 0 ? 'written' : 'empty'}; A runs ${a.host.domains.size} domains`,
  );

  await tv(b.socketPath, 'create', '-q', 'other.cfg');
  await tv(b.socketPath, 'restore', 'count.save');
  const copy = b.host.lookup('count');
  console.log(
    `B: runs "other" as domain ${b.host.lookup('other').domid}; typevisor restore count.save -> domain ${copy.domid}`,
  );
  await waitTicks(copy, saved.length + 3);
  const all = ticks(copy);
  const gapless = all.every((v, i) => i === 0 || v === (all[i - 1] ?? 0) + 1);
  console.log(
    `B: the counter went on after tick ${saved.length} without a gap: ${gapless && all.length > saved.length}`,
  );
} finally {
  await a.stop();
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
}
