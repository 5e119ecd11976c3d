/**
 * Where devices live in xenstore, and the Linux virtual-device numbering of disks.
 * @module
 */
import { SplitDriversError } from '../errors.ts';

/** `/local/domain/<domid>`. */
export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

/** Frontend directory `/local/domain/<domid>/device/<type>/<devid>`. @see xen/include/public/io/blkif.h */
export function frontendPath(domid: number, type: string, devid: number): string {
  return `${domainPath(domid)}/device/${type}/${devid}`;
}

/** Backend directory `/local/domain/<backendDomid>/backend/<type>/<frontendDomid>/<devid>`. */
export function backendPath(
  backendDomid: number,
  type: string,
  frontendDomid: number,
  devid: number,
): string {
  return `${domainPath(backendDomid)}/backend/${type}/${frontendDomid}/${devid}`;
}

/**
 * The virtual-device number of a disk name, per docs/man/xen-vbd-interface.7.pandoc:
 * `xvda` → 51712, `xvdq` → (1<<28)|(16<<8), `hda` → 768, `sda` → 2048, partitions as `xvda1`.
 * Also accepts a plain decimal number.
 */
export function vbdDeviceNumber(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const m = /^(xvd|hd|sd)([a-z]+)(\d*)$/.exec(name);
  if (m === null) throw new SplitDriversError('INVALID_ARGUMENT', `unknown disk name "${name}"`);
  const [, kind, letters = '', partText = ''] = m;
  let disk = 0;
  for (const ch of letters) disk = disk * 26 + (ch.charCodeAt(0) - 96);
  disk -= 1;
  const part = partText === '' ? 0 : Number(partText);
  if (kind === 'xvd') {
    if (disk <= 15 && part <= 15) return (202 << 8) | (disk << 4) | part;
    if (part <= 255) return (1 << 28) | (disk << 8) | part;
  } else if (kind === 'sd') {
    if (disk <= 15 && part <= 15) return (8 << 8) | (disk << 4) | part;
  } else if (disk <= 3 && part <= 63) {
    return disk < 2 ? (3 << 8) | (disk << 6) | part : (22 << 8) | ((disk - 2) << 6) | part;
  }
  throw new SplitDriversError('INVALID_ARGUMENT', `disk name "${name}" is out of range`);
}
