/**
 * Two guests on a bridge, talking to each other: two PV guests (the repository's netping guest,
 * a minimal netfront in C — tests/guests/netping) are created from xl configuration files whose
 * `vif=` entries put them on the bridge `xenbr0`. Each connects its netfront to a dom0 netback
 * through xenstore, grants and an event channel; the pinger broadcasts, the other answers.
 * `typevisor network-list` shows both interfaces connected.
 *
 * Run: pnpm tsx --conditions=@typevisor/source examples/two-guests-bridge.ts
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonClient, runVerb, TypevisorDaemon } from '@typevisor/toolstack';

const kernel = fileURLToPath(
  new URL('../tests/guests/netping/netping-x86_64.elf', import.meta.url),
);
const dir = mkdtempSync(join(tmpdir(), 'typevisor-bridge-'));
const socket = join(dir, 'typevisor.sock');
const daemon = await TypevisorDaemon.start({ socketPath: socket, time: 'virtual', memoryMiB: 128 });

const tv = (...args: string[]): Promise<string> =>
  runVerb(args, { env: { TYPEVISOR_SOCKET: socket }, cwd: dir });
const consoleOf = async (name: string): Promise<string> => {
  const c = await DaemonClient.connect(socket);
  const r = await c.call<{ data: string }>('console.read', { domain: name });
  c.close();
  return Buffer.from(r.data, 'base64').toString('latin1');
};

for (const [name, mac, role] of [
  ['bob', '00:16:3e:00:00:02', 'pong'],
  ['alice', '00:16:3e:00:00:01', 'ping'],
] as const) {
  const cfg = join(dir, `${name}.cfg`);
  writeFileSync(
    cfg,
    `name = "${name}"\nkernel = "${kernel}"\nmemory = 16\nextra = "${role}"\nvif = [ "mac=${mac},bridge=xenbr0" ]\n`,
  );
  await tv('create', cfg);
  console.log(`typevisor create ${name}.cfg   (vif mac=${mac}, bridge=xenbr0, ${role})`);
}
for (let i = 0; i < 1200 && !(await consoleOf('alice')).includes('answered'); i++)
  await new Promise((r) => setTimeout(r, 50));
for (const name of ['alice', 'bob']) {
  const lines = (await consoleOf(name)).trim().split('\n');
  console.log(`${name}'s console: ${lines.at(-1)}`);
}
console.log('typevisor network-list alice bob');
process.stdout.write(await tv('network-list', 'alice', 'bob'));
await daemon.stop();
rmSync(dir, { recursive: true, force: true });
