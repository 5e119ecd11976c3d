/** See grub-common.ts. */
import { defineSuite } from '../harness.ts';
import { bootTime } from './grub-common.ts';

export default defineSuite({
  name: 'e2e/grub-boot',
  description:
    "Wall time from Host.createDomain to Debian's PV GRUB (grub-x86_64-xen.bin) printing its first console line and its grub> prompt (no disk; virtual time, so the guest does the same work every run). Lower is better.",
  unit: 'ms',
  lowerIsBetter: true,
  rounds: 3,
  cases: [
    { name: 'create → first console line', measure: () => bootTime('line') },
    { name: 'create → grub> prompt', measure: () => bootTime('prompt') },
  ],
});
