/**
 * xl's disk specification strings (`disk = [ '…' ]`), as parsed by Xen's libxlu: keyword
 * parameters (`format=`, `vdev=`, `access=`, `devtype=`, `backend=`, `backendtype=`,
 * `script=`, `discard`, `target=` which takes the rest of the string), positional parameters
 * in the order target, format, vdev, access, and the deprecated xm prefixes (`phy:`, `file:`,
 * `tap:`, `tap2:`, `aio:`, `raw:`, `qcow:`, `qcow2:`, `vhd:`, …) after which the positional
 * order is target, vdev, access.
 *
 * Deliberate extension: access `w!` (shared writable, as xm and the book use it) is accepted
 * and reported as `shared: true`.
 *
 * @see xen/docs/misc/xl-disk-configuration.txt, tools/libs/util/libxlu_disk_l.l
 */
import { ToolstackError } from '../errors.ts';

/** Image formats xl knows; Typevisor's block backend serves `raw` and `qcow2`. */
export type DiskFormat = 'raw' | 'qcow' | 'qcow2' | 'vhd' | 'qed' | 'empty';

/** A parsed disk specification. */
export interface DiskSpec {
  /** The backing file or device path (may be empty for an empty cdrom drive). */
  readonly target: string;
  /** Image format; `raw` when not given. */
  readonly format: DiskFormat;
  /** The virtual device name the guest sees (`xvda`, `hda`, `sda1`, `51712`). */
  readonly vdev: string;
  /** `r` (read-only) or `w` (read-write). */
  readonly access: 'r' | 'w';
  /** Writable by more than one domain at once (`w!`). */
  readonly shared: boolean;
  /** `disk` or `cdrom`. */
  readonly devtype: 'disk' | 'cdrom';
  /** `backendtype=` when given (`phy`, `tap`, `qdisk`, `standalone`). */
  readonly backendtype?: 'phy' | 'tap' | 'qdisk' | 'standalone';
  /** The deprecated prefix used (`phy`, `file`, …), when any. */
  readonly prefix?: string;
  /** `backend=` domain name, when given. */
  readonly backend?: string;
  /** `script=` hotplug script, when given. */
  readonly script?: string;
  /** `discard` / `no-discard`, when given. */
  readonly discard?: boolean;
}

const FORMATS: readonly string[] = ['raw', 'qcow', 'qcow2', 'vhd', 'qed', 'empty'];
const BACKENDTYPES: readonly string[] = ['phy', 'tap', 'qdisk', 'standalone'];
const PREFIXES = /^(tapdisk|tap2?|aio|ioemu|file|phy|raw|qcow2?|vhd|iscsi|e?nbd|drbd):/;

function fail(spec: string, near: string, msg: string): never {
  throw new ToolstackError('CONFIG', `disk spec '${spec}': ${msg} (near '${near}')`);
}

/** Parses one xl disk specification; throws a `CONFIG` {@link ToolstackError} naming the problem. */
export function parseDiskSpec(spec: string): DiskSpec {
  let rest = spec.replace(/^[ \t\n]+/, '');
  let target: string | undefined;
  let format: string | undefined;
  let vdev: string | undefined;
  let access: string | undefined;
  let devtype: 'disk' | 'cdrom' = 'disk';
  let prefix: string | undefined;
  let backendtype: string | undefined;
  let backend: string | undefined;
  let script: string | undefined;
  let discard: boolean | undefined;
  const setOnce = (what: string, old: string | undefined, v: string): string => {
    if (old !== undefined && old !== '' && old !== v) fail(spec, v, `${what} respecified`);
    return v;
  };
  const setFormat = (v: string): void => {
    const f = v === '' ? 'raw' : v;
    if (!FORMATS.includes(f)) fail(spec, v, 'unknown value for format');
    format = setOnce('format', format, f);
  };

  // Deprecated prefixes come first; `tap:qcow:` chains two of them.
  for (let m = PREFIXES.exec(rest); m !== null; m = PREFIXES.exec(rest)) {
    const name = m[1] as string;
    if (/^(raw|qcow2?|vhd)$/.test(name)) setFormat(name);
    else if (/^(iscsi|e?nbd|drbd)$/.test(name)) script = setOnce('script', script, `block-${name}`);
    prefix ??= name;
    rest = rest.slice(m[0].length);
  }
  const unknownPrefix = /^([a-z][a-z0-9]*):(?![a-z0-9])/.exec(rest);
  if (unknownPrefix !== null && target === undefined && !rest.startsWith('target=')) {
    fail(spec, unknownPrefix[0], 'unknown deprecated disk prefix');
  }

  let positional = 0;
  while (rest.length > 0) {
    rest = rest.replace(/^[ \t\n]+/, '');
    if (rest.startsWith('target=')) {
      target = setOnce('target', target, rest.slice(7).replace(/,$/, ''));
      break;
    }
    const comma = rest.indexOf(',');
    const part = comma < 0 ? rest : rest.slice(0, comma);
    rest = comma < 0 ? '' : rest.slice(comma + 1);
    const eq = part.indexOf('=');
    if (eq >= 0) {
      const key = part.slice(0, eq);
      const v = part.slice(eq + 1);
      switch (key) {
        case 'format':
          setFormat(v);
          break;
        case 'vdev':
          vdev = setOnce('vdev', vdev, v);
          break;
        case 'access':
          access = v;
          break;
        case 'devtype':
          if (v !== 'disk' && v !== 'cdrom') fail(spec, part, 'unknown value for type');
          devtype = v;
          break;
        case 'backend':
          backend = setOnce('backend', backend, v);
          break;
        case 'backendtype':
          if (!BACKENDTYPES.includes(v)) fail(spec, v, 'unknown value for backendtype');
          backendtype = setOnce('backendtype', backendtype, v);
          break;
        case 'script':
          script = setOnce('script', script, v);
          break;
        default:
          fail(spec, part, 'unknown parameter');
      }
      continue;
    }
    if (part === 'cdrom') {
      devtype = 'cdrom';
      continue;
    }
    if (part === 'discard' || part === 'no-discard') {
      discard = part === 'discard';
      continue;
    }
    // Positional: target, then format (unless a deprecated prefix was used), vdev, access.
    const slot = positional++;
    if (target === undefined) {
      target = part;
    } else if (prefix === undefined && format === undefined && slot === 1) {
      const colon = part.lastIndexOf(':');
      if (target === '' && colon >= 0) {
        vdev = part.slice(0, colon);
        devtype = vdevType(spec, part.slice(colon + 1));
        format = 'empty';
      } else {
        setFormat(part);
      }
    } else if (vdev === undefined) {
      const colon = part.lastIndexOf(':');
      if (colon >= 0) {
        vdev = part.slice(0, colon);
        devtype = vdevType(spec, part.slice(colon + 1));
      } else {
        vdev = part;
      }
    } else if (access === undefined) {
      access = part;
    } else {
      fail(spec, part, 'too many positional parameters');
    }
  }

  if (target === undefined) fail(spec, spec, 'no target (file or device) given');
  if (vdev === undefined || vdev === '') fail(spec, spec, 'no vdev (virtual device name) given');
  let shared = false;
  let mode: 'r' | 'w';
  const a = access ?? '';
  if (a === 'r' || a === 'ro') mode = 'r';
  else if (a === 'w' || a === 'rw' || a === '') mode = 'w';
  else if (a === 'w!' || a === '!') {
    mode = 'w';
    shared = true;
  } else fail(spec, a, 'unknown value for access');
  const result: {
    -readonly [K in keyof DiskSpec]: DiskSpec[K];
  } = { target, format: (format ?? 'raw') as DiskFormat, vdev, access: mode, shared, devtype };
  if (backendtype !== undefined)
    result.backendtype = backendtype as NonNullable<DiskSpec['backendtype']>;
  if (prefix !== undefined) result.prefix = prefix;
  if (backend !== undefined) result.backend = backend;
  if (script !== undefined) result.script = script;
  if (discard !== undefined) result.discard = discard;
  return result;
}

function vdevType(spec: string, t: string): 'disk' | 'cdrom' {
  if (t === 'cdrom' || t === 'disk') return t;
  return fail(spec, t, 'unknown deprecated type');
}
