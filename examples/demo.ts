/**
 * The Typevisor demo: the packages working together on real guest images.
 *
 * 1. The x86 CPU model boots a freestanding C kernel built from this repository (gcc, 64-bit,
 *    multiboot) with `typevisor bare`, and its serial output is compared with what the same
 *    kernel printed under QEMU.
 * 2. The toolstack reads an xl config, parses the guest kernel's Xen ELF notes and lays out
 *    its start-of-day memory exactly as Xen's domain builder does, into machine frames the
 *    MMU hands out; the MMU then validates and pins the bootstrap page tables under Xen's PV
 *    rules, as Xen does before a PV guest's first instruction (`bootPvDomain`).
   The hypervisor allocates the xenstore and console event channels the way libxl does.
 * 3. A xenstore daemon speaking Xen's wire protocol publishes the domain, and Debian's own
 *    `xenstore-ls` (when installed) reads it back over the socket.
 * 4. A block device is attached through xenbus and the guest's blkfront writes and reads a
 *    sector through dom0's blkback.
 * 5. The hypervisor runs a 64-bit PV guest built from this repository: built by the toolstack,
 *    validated by the MMU, run on the CPU model with hypercalls, event channels and grant
 *    tables, printing through its PV console ring — and its console output is compared with
 *    what the same guest printed under the real Xen 4.17.
 *
 * 6. End to end: Debian's unmodified PV GRUB boots on the toolstack's Host (hypervisor, dom0,
 *    xenstored and backends in one process), finds an ext2 disk built here with `mke2fs -d`
 *    through blkfront/blkback, reads its grub.cfg, lists and cats files, and powers off.
 *
 * The guest of part 2 is Debian's unmodified GRUB for Xen (`grub-xen-host`) when installed, otherwise
 * the 64-bit PV test guest built from this repository (packages/hypervisor/test/xen-reference).
 *
 * Run: pnpm demo
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PV_RUN } from '@typevisor/hypervisor';
import {
  Blkback,
  Blkfront,
  MemoryStorage,
  plugDevice,
  vbdDeviceNumber,
} from '@typevisor/split-drivers';
import { MemoryFabric, MemoryXenstore } from '@typevisor/split-drivers/testing';
import {
  bootPvDomain,
  type CliIo,
  Host,
  PV_GUEST_DOMID,
  parseDomainConfig,
  parseElf,
  readXenKernelInfo,
  runCli,
} from '@typevisor/toolstack';
import { inProcessTransport, Xenstore, XenstoreClient } from '@typevisor/xenstore';
import { XenstoreServer } from '@typevisor/xenstore/node';

const GRUB = '/usr/lib/grub-xen/grub-x86_64-xen.bin';
const OWN_GUEST = fileURLToPath(
  new URL('../packages/hypervisor/test/xen-reference/hypercall-ref-x86_64.elf', import.meta.url),
);
const kernelPath = existsSync(GRUB) ? GRUB : OWN_GUEST;
const hex = (n: number | bigint): string => `0x${n.toString(16)}`;
const say = (line = ''): void => console.log(line);

// --- 1. The CPU model on a kernel built from this repository --------------------------------
const KERNEL64 = fileURLToPath(
  new URL('../packages/x86-cpu/test/vectors/multiboot-kernel64/', import.meta.url),
);
say('== 1. x86 CPU model: typevisor bare --multiboot kernel.elf (64-bit C kernel built with gcc)');
let serial = '';
let stats = '';
const io: CliIo = {
  stdout: (t) => {
    serial += t;
  },
  stderr: (t) => {
    stats += t;
  },
  env: process.env,
  cwd: process.cwd(),
};
const bareStatus = await runCli(['bare', '--multiboot', `${KERNEL64}kernel.elf`, '--stats'], io);
for (const line of serial.trimEnd().split('\n')) say(`  | ${line}`);
const qemuSerial = readFileSync(`${KERNEL64}qemu-serial.txt`, 'utf8');
const instructions = /instructions: (\d+)/.exec(stats)?.[1] ?? '?';
say(
  `exit status ${bareStatus}, ${instructions} instructions; serial output ${serial === qemuSerial ? 'identical to' : 'DIFFERS from'} QEMU's`,
);
say();

// --- 2. Build the domain -------------------------------------------------------------------
const config = parseDomainConfig(
  `name = "demo"
type = "pv"
memory = 64
kernel = "${kernelPath}"
disk = [ 'format=raw, vdev=xvda, access=w, target=/dev/null' ]
`,
  'demo.cfg',
);
const DOMID = PV_GUEST_DOMID;
say(`== 2. domain builder: ${config.name}, ${config.memory} MiB, ${kernelPath}`);
// The toolstack's boot path: the builder's layout in MMU frames, xenstore and console event
// channels allocated as libxl does, and the top-level page table validated and pinned by the MMU.
const domain = bootPvDomain(kernelPath, config.memory);
const { layout, machine } = domain;
const p2m = machine.p2m(DOMID);
const kernel = readXenKernelInfo(parseElf(readFileSync(kernelPath), kernelPath), kernelPath);
say(
  `guest: ${kernel.guestOs} (${kernel.guestType}), entry ${hex(kernel.virtEntry)}, image ${hex(kernel.virtKstart)}-${hex(kernel.virtKend)}`,
);
for (const s of layout.segments) {
  const range = `${hex(s.vstart)} -> ${hex(s.vstart + BigInt(s.pages) * 4096n)}`;
  say(`  ${s.name.padEnd(12)}: ${range.padEnd(22)} (pfn ${hex(s.pfn)} + ${hex(s.pages)} pages)`);
}
say(`  virt_pgtab_end : ${hex(layout.virtPgtabEnd)}`);
say(
  `MMUEXT_PIN_L4_TABLE on the builder's tables: ${domain.pinRc === 0 ? 'validated and pinned' : `refused (${domain.pinRc})`}`,
);
// start_info as the guest will read it (x86_64 layout: store_evtchn @64, console evtchn @80).
const si = new DataView(machine.memory.readFrame(p2m.get(layout.startInfoPfn)).buffer);
const siBytes = new Uint8Array(si.buffer, si.byteOffset, 32);
const magic = new TextDecoder().decode(siBytes.subarray(0, siBytes.indexOf(0)));
const storePort = si.getUint32(64, true);
const consolePort = si.getUint32(80, true);
say(
  `start_info at ${hex(layout.vcpu.rsi)}: magic "${magic}", store evtchn ${storePort}, console evtchn ${consolePort}`,
);
say(
  `vCPU 0: rip ${hex(layout.vcpu.rip)} rsp ${hex(layout.vcpu.rsp)} rsi ${hex(layout.vcpu.rsi)} cs ${hex(layout.vcpu.cs)} cr3 ${hex(layout.vcpu.cr3)}`,
);

// --- 3. xenstore -------------------------------------------------------------------------
say();
say('== 3. xenstore');
const dir = mkdtempSync(join(tmpdir(), 'typevisor-demo-'));
const socketPath = join(dir, 'xenstored.sock');
const store = new Xenstore();
const server = new XenstoreServer({ socketPath, xenstore: store });
await server.listen();
const xs = new XenstoreClient(inProcessTransport(store, 0));
const dom = `/local/domain/${DOMID}`;
await xs.transaction(async (tx) => {
  // The domain owns its directory (children inherit the permissions), dom0 may read it.
  await tx.mkdir(dom);
  await tx.setPerms(dom, [`n${DOMID}`, 'r0']);
  await tx.write(`${dom}/name`, config.name);
  await tx.write(`${dom}/domid`, String(DOMID));
  await tx.write(`${dom}/memory/target`, String(config.memory * 1024));
  await tx.write(`${dom}/store/port`, String(storePort));
  await tx.write(`${dom}/store/ring-ref`, String(p2m.get(layout.storePfn)));
  await tx.write(`${dom}/console/port`, String(consolePort));
  await tx.write(`${dom}/console/ring-ref`, String(p2m.get(layout.consolePfn)));
});
say(`published ${dom} on ${socketPath}`);
const ls = ['/usr/bin/xenstore-ls', '/usr/sbin/xenstore-ls'].find((p) => existsSync(p));
if (ls !== undefined) {
  say(`Debian's xenstore-ls -p ${dom}, talking to our daemon:`);
  // Asynchronously: the daemon answering it runs in this process.
  const { stdout: out } = await promisify(execFile)(ls, ['-p', dom], {
    env: { ...process.env, XENSTORED_PATH: socketPath },
    timeout: 10_000,
  });
  for (const line of out.trimEnd().split('\n')) say(`  ${line}`);
} else {
  say("(install xenstore-utils to see Debian's xenstore-ls read it back)");
  for (const key of await xs.directory(dom)) say(`  ${key}`);
}
xs.close();
await server.close();
rmSync(dir, { recursive: true, force: true });

// --- 4. A block device through xenbus, grants and an event channel ----------------------------
say();
say('== 4. split block driver');
const xenbus = new MemoryXenstore();
const fabric = new MemoryFabric();
const paths = await plugDevice(xenbus.client(), {
  type: 'vbd',
  devid: vbdDeviceNumber('xvda'),
  backendDomid: 0,
  frontendDomid: DOMID,
  backendKeys: { mode: 'w', dev: 'xvda' },
});
const backend = new Blkback({
  xenbus: xenbus.client(),
  backendPath: paths.backend,
  mapper: fabric.domain(0).mapper,
  events: fabric.domain(0).events,
  storage: new MemoryStorage(8192),
});
await backend.start();
const guest = fabric.domain(DOMID);
const frontend = new Blkfront({
  xenbus: xenbus.client(),
  frontendPath: paths.frontend,
  grants: guest.grants,
  pages: guest.pages,
  events: guest.events,
});
const disk = await frontend.connect();
await frontend.write(
  8,
  new TextEncoder().encode('written by blkfront, stored by blkback'.padEnd(512)),
);
const back = await frontend.read(8, 1);
say(
  `xvda: ${disk?.sectors} sectors; sector 8 reads back "${new TextDecoder().decode(back.data).trim()}" (status ${back.status})`,
);
await frontend.close();

// --- 5. A PV guest running on the hypervisor ----------------------------------------------
say();
say("== 5. hypervisor: the repository's 64-bit PV hypercall reference guest");
const REF = fileURLToPath(new URL('../packages/hypervisor/test/xen-reference/', import.meta.url));
const pv = bootPvDomain(`${REF}hypercall-ref-x86_64.elf`, 16);
let result: number = PV_RUN.BUDGET;
let hypercallRounds = 0;
for (let i = 0; i < 10_000 && result !== PV_RUN.SHUTDOWN; i++) {
  result = pv.vcpu.run(200_000);
  hypercallRounds++;
  pv.drainConsoleRing(); // xenconsoled's part
}
const text = pv.console();
const lines = text.slice(text.indexOf('TYPEVISOR-HYPERCALL-REF begin')).trimEnd().split('\n');
const golden = readFileSync(`${REF}golden-x86_64.txt`, 'utf8').trimEnd().split('\n');
// The one host-dependent line is dom0's own port for the console channel (17 under Xen).
const same = lines.filter(
  (line, i) =>
    line === golden[i] ||
    (golden[i] === 'status_console.u32 17' &&
      line === `status_console.u32 ${pv.consoleBackendPort}`),
).length;
for (const line of lines.slice(0, 4)) say(`  | ${line}`);
say(`  | … (${lines.length} lines through the PV console ring)`);
say(
  `shutdown ${JSON.stringify(pv.shutdowns)} after ${hypercallRounds} run slices; ${same} of ${golden.length} lines equal the real Xen 4.17's output`,
);

// --- 6. End to end: Debian's PV GRUB on the Host -----------------------------------------------
say();
say("== 6. end to end: Debian's unmodified PV GRUB on the host, with an ext2 disk");
const mke2fs = ['/usr/sbin/mke2fs', '/sbin/mke2fs'].find((p) => existsSync(p));
if (existsSync(GRUB) && mke2fs !== undefined) {
  const work = mkdtempSync(join(tmpdir(), 'typevisor-demo-grub-'));
  const root = join(work, 'root');
  mkdirSync(join(root, 'boot/grub'), { recursive: true });
  writeFileSync(
    join(root, 'hello.txt'),
    'hello from an ext2 file, read by GRUB through blkfront\n',
  );
  writeFileSync(
    join(root, 'boot/grub/grub.cfg'),
    'echo "grub.cfg read from (xen/xvda)"\nls /\ncat /hello.txt\nhalt\n',
  );
  const image = join(work, 'disk.img');
  await promisify(execFile)(mke2fs, ['-q', '-F', '-t', 'ext2', '-d', root, image, '8M']);
  const host = new Host();
  host.onShutdown = (d, action) =>
    say(`domain ${d.domid} (${d.name}) shut down: ${d.shutdownName}; on_poweroff=${action}`);
  const cfg = parseDomainConfig(
    `name = "grub"\nkernel = "${GRUB}"\nmemory = 64\ndisk = [ "${image},raw,xvda,w" ]\n`,
    'grub.cfg',
  );
  const t0 = performance.now();
  const grub = await host.createDomain(cfg);
  say(`created domain ${grub.domid} from ${GRUB}`);
  await host.run({ timeoutMs: 600_000 });
  const shown = grub
    .consoleText()
    // biome-ignore lint/suspicious/noControlCharactersInRegex: GRUB's ANSI escapes
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/ {6}\[ [^\]]*\]/g, '')
    .replace(/\r/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '');
  for (const line of shown) say(`  | ${line}`);
  const xvda = grub.disks.get('xvda');
  say(
    `xvda: ${xvda?.metrics.reads} block reads, ${xvda?.metrics.errors} errors; ${(grub.instructions / 1e6).toFixed(1)} M guest instructions in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  rmSync(work, { recursive: true, force: true });
} else {
  say('(install grub-xen-host and e2fsprogs to boot GRUB here; part 5 ran our own guest)');
}

say();
say('demo complete');
