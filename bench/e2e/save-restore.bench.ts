/**
 * Host.save and Host.restore of a host running Debian's PV GRUB (64 MiB guest, at its prompt):
 * MB/s of the save image produced and consumed, next to this machine copying the same number of
 * bytes in memory (the ceiling).
 */
import { Host, type HostDomain, parseDomainConfig } from '@typevisor/toolstack';
import { defineSuite } from '../harness.ts';

const GRUB = '/usr/lib/grub-xen/grub-x86_64-xen.bin';
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
  image = await h.save();
  return h;
}

export default defineSuite({
  name: 'e2e/save-restore',
  description:
    "Host.save and Host.restore of a host running Debian's PV GRUB (64 MiB guest at its prompt; the image holds only non-zero frames), MB/s of image, vs copying the same bytes in memory.",
  unit: 'MB/s',
  rounds: 5,
  cases: [
    {
      name: 'Host.save',
      measure: async () => {
        const h = await ready();
        const t0 = performance.now();
        const bytes = await h.save();
        return bytes.length / 1048576 / ((performance.now() - t0) / 1000);
      },
    },
    {
      name: 'Host.restore',
      measure: async () => {
        await ready();
        const t0 = performance.now();
        const h = await Host.restore(image);
        const s = (performance.now() - t0) / 1000;
        await h.close();
        return image.length / 1048576 / s;
      },
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
        return image.length / 1048576 / Math.max(s, 1e-6);
      },
    },
  ],
});
