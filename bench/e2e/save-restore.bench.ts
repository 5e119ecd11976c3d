/**
 * Per-domain save and restore (`typevisor save` / `restore`) of Debian's PV GRUB (64 MiB guest
 * at its prompt): MB/s of the image produced and consumed (the image holds the non-zero pages,
 * canonicalised to PFNs), and the same in guest memory covered (64 MiB / time), next to this
 * machine copying the image in memory (the ceiling).
 */
import {
  Host,
  type HostDomain,
  parseDomainConfig,
  restoreDomainImage,
  saveDomainToBytes,
} from '@typevisor/toolstack';
import { defineSuite } from '../harness.ts';

const GRUB = '/usr/lib/grub-xen/grub-x86_64-xen.bin';
const GUEST_MB = 64 * 1.048576;
let host: Host | undefined;
let image: Uint8Array = new Uint8Array(0);

async function ready(): Promise<Host> {
  if (host) return host;
  const h = new Host();
  const dom: HostDomain = await h.createDomain(
    parseDomainConfig(`name = "bench"\nkernel = "${GRUB}"\nmemory = 64\n`, 'bench.cfg'),
  );
  await h.run({ until: () => dom.consoleText().includes('grub> '), stopWhenIdle: false });
  host = h;
  image = (await saveDomainToBytes(h, 'bench', { keep: true })).image;
  return h;
}

async function timedSave(): Promise<number> {
  const h = await ready();
  const t0 = performance.now();
  await saveDomainToBytes(h, 'bench', { keep: true });
  return (performance.now() - t0) / 1000;
}

async function timedRestore(): Promise<number> {
  await ready();
  const target = new Host();
  const t0 = performance.now();
  await restoreDomainImage(target, image);
  const s = (performance.now() - t0) / 1000;
  await target.close();
  return s;
}

export default defineSuite({
  name: 'e2e/save-restore',
  description:
    "Per-domain save and restore (saveDomainImage / restoreDomainImage, what typevisor save and restore run) of Debian's PV GRUB, a 64 MiB guest at its prompt: MB/s of image (non-zero pages only) and MB/s of guest memory covered, vs copying the image in memory.",
  unit: 'MB/s',
  rounds: 5,
  cases: [
    {
      name: 'save: image MB/s',
      measure: async () => {
        const s = await timedSave();
        return image.length / 1e6 / s;
      },
    },
    {
      name: 'save: guest MB/s',
      measure: async () => GUEST_MB / (await timedSave()),
    },
    {
      name: 'restore: image MB/s',
      measure: async () => image.length / 1e6 / (await timedRestore()),
    },
    {
      name: 'restore: guest MB/s',
      measure: async () => GUEST_MB / (await timedRestore()),
    },
    {
      name: 'memory copy of the image',
      peer: true,
      measure: async () => {
        await ready();
        const t0 = performance.now();
        const copy = image.slice();
        const s = (performance.now() - t0) / 1000;
        if (copy.length !== image.length) throw new Error('copy failed');
        return image.length / 1e6 / Math.max(s, 1e-6);
      },
    },
  ],
});
