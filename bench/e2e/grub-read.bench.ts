/** See grub-common.ts. */
import { defineSuite } from '../harness.ts';
import { FILE_MIB, grubRead, hostRead } from './grub-common.ts';

export default defineSuite({
  name: 'e2e/grub-read',
  description: `Debian's PV GRUB hashing a ${FILE_MIB} MiB file on an ext2 xvda (hashsum --hash crc32) through blkfront/blkback on a raw image file, vs this process reading the image file itself (the ceiling).`,
  unit: 'MB/s',
  rounds: 1,
  cases: [
    { name: 'GRUB hashsum via blkfront/blkback', measure: grubRead },
    { name: 'host readFileSync of the image', peer: true, measure: hostRead },
  ],
});
