/**
 * Boot a PV guest from an xl configuration file, twice: with the `Host` API, and with the
 * `typevisor` verbs talking to a daemon — then change its memory with `mem-set` and watch the
 * guest's balloon driver follow. The guest is the repository's balloon guest
 * (tests/guests/balloon), a tiny PV kernel that prints its memory reservation.
 *
 * Run: pnpm tsx --conditions=@typevisor/source examples/boot-from-config.ts
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DaemonClient,
  Host,
  parseDomainConfig,
  runVerb,
  TypevisorDaemon,
} from '@typevisor/toolstack';

const kernel = fileURLToPath(
  new URL('../tests/guests/balloon/balloon-x86_64.elf', import.meta.url),
);
const dir = mkdtempSync(join(tmpdir(), 'typevisor-example-'));
const cfgPath = join(dir, 'guest.cfg');
writeFileSync(
  cfgPath,
  `# An xl configuration file, as for 'xl create'.
name   = "from-config"
type   = "pv"
kernel = "${kernel}"
memory = 32
maxmem = 48
on_poweroff = "destroy"
`,
);

// 1. The TypeScript API: parse the file, build the domain, run the host until it has spoken.
const host = new Host({ memoryMiB: 128 });
const dom = await host.createDomain(parseDomainConfig(readFileSync(cfgPath, 'utf8'), cfgPath));
const said = (text: string) => () => dom.consoleText().includes(text);
await host.run({ until: said('current=32768 KiB'), timeoutMs: 60_000, stopWhenIdle: false });
console.log(`API: built domain ${dom.domid} (${dom.name}) from guest.cfg`);
console.log(`API: its console says "${dom.consoleText().trim().split('\n').at(-1)}"`);
await host.setMemoryTarget(dom.domid, 24 * 1024);
await host.run({ until: said('current=24576 KiB'), timeoutMs: 60_000, stopWhenIdle: false });
console.log(`API: after setMemoryTarget(24 MiB): "${dom.consoleText().trim().split('\n').at(-1)}"`);
await host.close();

// 2. The command line: a daemon owns the host; the verbs are its clients (here in-process).
const env = { TYPEVISOR_RUN_DIR: dir };
const daemon = await TypevisorDaemon.start({
  socketPath: join(dir, 'typevisor.sock'),
  time: 'virtual',
  memoryMiB: 128,
});
const tv = (...args: string[]): Promise<string> => runVerb(args, { env, cwd: dir });
const consoleOf = async (name: string): Promise<string> => {
  const c = await DaemonClient.connect(join(dir, 'typevisor.sock'));
  const r = await c.call<{ data: string }>('console.read', { domain: name });
  c.close();
  return Buffer.from(r.data, 'base64').toString('latin1');
};
const waitFor = async (text: string): Promise<void> => {
  for (let i = 0; i < 600 && !(await consoleOf('from-config')).includes(text); i++)
    await new Promise((r) => setTimeout(r, 50));
};

await tv('create', cfgPath);
await waitFor('current=32768 KiB');
const memColumn = async () =>
  (await tv('list', 'from-config')).split('\n')[1]?.trim().split(/\s+/)[2] ?? '?';
console.log(`CLI: typevisor create ${'guest.cfg'}; list shows Mem ${await memColumn()}`);
await tv('mem-set', 'from-config', '20m');
await waitFor('current=20480 KiB');
console.log(
  `CLI: typevisor mem-set from-config 20m; the guest says "${(await consoleOf('from-config')).trim().split('\n').at(-1)}"; list shows Mem ${await memColumn()}`,
);
await tv('destroy', 'from-config');
const left = (await tv('list')).trim().split('\n').slice(1);
console.log(
  `CLI: typevisor destroy from-config; list shows ${left.map((l) => l.split(/\s+/)[0]).join(', ')}`,
);
await daemon.stop();
rmSync(dir, { recursive: true, force: true });
