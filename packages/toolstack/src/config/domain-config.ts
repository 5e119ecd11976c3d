/**
 * Domain configuration: an xl.cfg (or xm) file checked and turned into a typed
 * {@link DomainConfig}. Every error names the file, the line and the key.
 *
 * @see xen/docs/man/xl.cfg.5.pod.in
 */
import { ToolstackError } from '../errors.ts';
import { type DiskSpec, parseDiskSpec } from './disk-spec.ts';
import { parseVifSpec, type VifSpec } from './vif-spec.ts';
import { parseXlConfig, type XlSetting, type XlValue } from './xl-cfg.ts';

/** What to do when a domain powers off, reboots or crashes (xl's `on_*` actions). */
export type LifecycleAction =
  | 'destroy'
  | 'restart'
  | 'rename-restart'
  | 'preserve'
  | 'coredump-destroy'
  | 'coredump-restart'
  | 'soft-reset';

const ACTIONS: readonly LifecycleAction[] = [
  'destroy',
  'restart',
  'rename-restart',
  'preserve',
  'coredump-destroy',
  'coredump-restart',
  'soft-reset',
];

/** The most vCPUs a Typevisor domain may have. */
export const MAX_VCPUS = 128;

/** A domain's configuration, checked and with xl's defaults applied. */
export interface DomainConfig {
  /** Where the configuration came from (file path or `<string>`). */
  readonly source: string;
  /** Domain name. */
  readonly name: string;
  /** UUID, lower-case, when given; the toolstack generates one otherwise. */
  readonly uuid?: string;
  /** Guest type (`builder = "linux"` in xm configs means `pv`, `"hvm"` means `hvm`). */
  readonly type: 'pv' | 'pvh' | 'hvm';
  /** Kernel image path (PV). */
  readonly kernel?: string;
  /** Initial ramdisk path. */
  readonly ramdisk?: string;
  /** Kernel command line: `cmdline`, or `root=…` and `extra` joined as xl does. */
  readonly cmdline: string;
  /** Bootloader to run in dom0 (`pygrub`), when given instead of a kernel. */
  readonly bootloader?: string;
  /** Initial memory in MiB. */
  readonly memory: number;
  /** Maximum memory in MiB (the balloon ceiling). */
  readonly maxmem: number;
  /** vCPUs online at start. */
  readonly vcpus: number;
  /** vCPUs the domain may bring online. */
  readonly maxvcpus: number;
  /** Physical CPUs the vCPUs may run on (`cpus=`), or undefined for all. */
  readonly cpus?: readonly number[];
  /** Credit-scheduler weight (default 256). */
  readonly cpuWeight: number;
  /** Credit-scheduler cap in percent of one CPU (0 = no cap). */
  readonly cap: number;
  /** Virtual block devices. */
  readonly disks: readonly DiskSpec[];
  /** Virtual network interfaces. */
  readonly vifs: readonly VifSpec[];
  /** Action when the guest powers off (default `destroy`). */
  readonly onPoweroff: LifecycleAction;
  /** Action when the guest reboots (default `restart`). */
  readonly onReboot: LifecycleAction;
  /** Action when the guest crashes (default `destroy`). */
  readonly onCrash: LifecycleAction;
  /**
   * Keys of the book's HVM and display configuration (`vnc`, `sdl`, `serial`, `acpi`, …) that
   * are accepted for compatibility and recorded here, but not acted on by a PV domain.
   */
  readonly compat: Readonly<Record<string, string | number | boolean>>;
}

/** Keys recorded in {@link DomainConfig.compat}, with their kind. */
const COMPAT_KEYS: Readonly<Record<string, 'bool' | 'string' | 'int'>> = {
  vnc: 'bool',
  vncunused: 'bool',
  vncdisplay: 'int',
  vnclisten: 'string',
  vncpasswd: 'string',
  sdl: 'bool',
  serial: 'string',
  acpi: 'bool',
  apic: 'bool',
  pae: 'bool',
  hap: 'bool',
  localtime: 'bool',
  boot: 'string',
  device_model: 'string',
  device_model_version: 'string',
  stdvga: 'bool',
  usb: 'bool',
  usbdevice: 'string',
};

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'name',
  'uuid',
  'type',
  'builder',
  'kernel',
  'ramdisk',
  'cmdline',
  'extra',
  'root',
  'bootloader',
  'memory',
  'maxmem',
  'vcpus',
  'maxvcpus',
  'cpus',
  'cpu_weight',
  'cap',
  'disk',
  'vif',
  'on_poweroff',
  'on_reboot',
  'on_crash',
  ...Object.keys(COMPAT_KEYS),
]);

class Reader {
  readonly source: string;
  readonly settings: ReadonlyMap<string, XlSetting>;
  constructor(source: string, settings: ReadonlyMap<string, XlSetting>) {
    this.source = source;
    this.settings = settings;
  }

  fail(s: XlSetting, msg: string): never {
    throw new ToolstackError('CONFIG', `${this.source}:${s.line}: ${s.name}: ${msg}`);
  }

  string(key: string): string | undefined {
    const s = this.settings.get(key);
    if (s === undefined) return undefined;
    if (s.value.kind === 'string') return s.value.value;
    if (s.value.kind === 'number') return s.value.text;
    return this.fail(s, 'expected a string, got a list');
  }

  int(key: string, min: number, max: number): number | undefined {
    const s = this.settings.get(key);
    if (s === undefined) return undefined;
    const text =
      s.value.kind === 'number'
        ? s.value.text
        : s.value.kind === 'string'
          ? s.value.value.trim()
          : '';
    if (s.value.kind === 'list') this.fail(s, 'expected a number, got a list');
    if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(text)) this.fail(s, `expected a number, got "${text}"`);
    const n = Number(text);
    if (n < min || n > max) this.fail(s, `${n} is out of range (${min}–${max})`);
    return n;
  }

  bool(key: string): boolean | undefined {
    const s = this.settings.get(key);
    if (s === undefined) return undefined;
    const text =
      s.value.kind === 'number' ? s.value.text : s.value.kind === 'string' ? s.value.value : '';
    if (text === '1' || text === 'true' || text === 'True') return true;
    if (text === '0' || text === 'false' || text === 'False') return false;
    return this.fail(s, `expected 0 or 1, got ${s.value.kind === 'list' ? 'a list' : `"${text}"`}`);
  }

  stringList(key: string): { item: string; setting: XlSetting }[] {
    const s = this.settings.get(key);
    if (s === undefined) return [];
    const items: XlValue[] = s.value.kind === 'list' ? [...s.value.items] : [s.value];
    return items.map((v) => {
      if (v.kind !== 'string') this.fail(s, 'expected a list of strings');
      return { item: v.value, setting: s };
    });
  }

  action(key: string, fallback: LifecycleAction): LifecycleAction {
    const v = this.string(key);
    if (v === undefined) return fallback;
    if (!(ACTIONS as readonly string[]).includes(v)) {
      this.fail(
        this.settings.get(key) as XlSetting,
        `unknown action "${v}" (expected ${ACTIONS.join(', ')})`,
      );
    }
    return v as LifecycleAction;
  }
}

/** Parses an xl `cpus=` value (`"all"`, `"0-3,^1"`, `[0, 2]`, `["0-1", "3"]`) into CPU numbers. */
export function parseCpuList(text: string): number[] {
  if (text.trim() === 'all') return [];
  const include = new Set<number>();
  const exclude = new Set<number>();
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const m = /^(\^?)(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) throw new ToolstackError('CONFIG', `invalid CPU list item "${part}"`);
    const lo = Number(m[2]);
    const hi = m[3] === undefined ? lo : Number(m[3]);
    if (hi < lo || hi > 4095) throw new ToolstackError('CONFIG', `invalid CPU range "${part}"`);
    for (let c = lo; c <= hi; c++) (m[1] === '^' ? exclude : include).add(c);
  }
  return [...include].filter((c) => !exclude.has(c)).sort((a, b) => a - b);
}

/**
 * Checks a parsed configuration file and applies xl's defaults. Unknown keys and
 * malformed values throw a `CONFIG` {@link ToolstackError} naming the file, line and key.
 */
export function toDomainConfig(file: {
  source: string;
  settings: ReadonlyMap<string, XlSetting>;
}): DomainConfig {
  const r: Reader = new Reader(file.source, file.settings);
  for (const s of file.settings.values()) {
    if (!KNOWN_KEYS.has(s.name)) r.fail(s, 'unknown key');
  }
  const nameSetting = file.settings.get('name');
  const name = r.string('name');
  if (name === undefined || nameSetting === undefined) {
    throw new ToolstackError('CONFIG', `${file.source}: name: required key is missing`);
  }
  if (!/^[A-Za-z0-9_.:+@-]+$/.test(name) || /^\d+$/.test(name)) {
    r.fail(
      nameSetting,
      `invalid domain name "${name}" (letters, digits and _.:+@- only, not all digits)`,
    );
  }

  let type: DomainConfig['type'] = 'pv';
  const typeText = r.string('type');
  const builder = r.string('builder');
  if (typeText !== undefined) {
    if (typeText !== 'pv' && typeText !== 'pvh' && typeText !== 'hvm') {
      r.fail(
        file.settings.get('type') as XlSetting,
        `unknown type "${typeText}" (expected pv, pvh or hvm)`,
      );
    }
    type = typeText;
  }
  if (builder !== undefined) {
    const fromBuilder =
      builder === 'hvm' ? 'hvm' : builder === 'linux' || builder === 'generic' ? 'pv' : undefined;
    const s = file.settings.get('builder') as XlSetting;
    if (fromBuilder === undefined)
      r.fail(s, `unknown builder "${builder}" (expected linux or hvm)`);
    if (typeText !== undefined && fromBuilder !== type)
      r.fail(s, `conflicts with type = "${type}"`);
    type = fromBuilder;
  }

  const uuid = r.string('uuid');
  if (uuid !== undefined && !/^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$/.test(uuid)) {
    r.fail(file.settings.get('uuid') as XlSetting, `invalid UUID "${uuid}"`);
  }

  const memory = r.int('memory', 1, 1 << 20) ?? 128;
  const maxmem = r.int('maxmem', 1, 1 << 20) ?? memory;
  if (maxmem < memory)
    r.fail(
      file.settings.get('maxmem') as XlSetting,
      `${maxmem} MiB is less than memory (${memory} MiB)`,
    );
  const vcpus = r.int('vcpus', 1, MAX_VCPUS) ?? 1;
  const maxvcpus = r.int('maxvcpus', 1, MAX_VCPUS) ?? vcpus;
  if (maxvcpus < vcpus)
    r.fail(file.settings.get('maxvcpus') as XlSetting, `${maxvcpus} is less than vcpus (${vcpus})`);

  let cpus: number[] | undefined;
  const cpusSetting = file.settings.get('cpus');
  if (cpusSetting !== undefined) {
    const v = cpusSetting.value;
    const text =
      v.kind === 'list'
        ? v.items
            .map((i) => (i.kind === 'string' ? i.value : i.kind === 'number' ? i.text : '[]'))
            .join(',')
        : v.kind === 'string'
          ? v.value
          : v.text;
    try {
      const list = parseCpuList(text);
      cpus = text.trim() === 'all' ? undefined : list;
      if (cpus !== undefined && cpus.length === 0) r.fail(cpusSetting, 'the CPU list is empty');
    } catch (err) {
      if (err instanceof ToolstackError && !err.message.includes(`${file.source}:`)) {
        r.fail(cpusSetting, err.message.replace(/^toolstack: /, ''));
      }
      throw err;
    }
  }

  const kernel = r.string('kernel');
  const bootloader = r.string('bootloader');
  if (type === 'pv' && kernel === undefined && bootloader === undefined) {
    throw new ToolstackError(
      'CONFIG',
      `${file.source}: kernel: a PV domain needs kernel (or bootloader)`,
    );
  }
  const cmdlineText = r.string('cmdline');
  const root = r.string('root');
  const extra = r.string('extra');
  const cmdline =
    cmdlineText ??
    [root === undefined ? undefined : `root=${root}`, extra]
      .filter((x) => x !== undefined)
      .join(' ');

  const disks = r.stringList('disk').map(({ item, setting }) => {
    try {
      return parseDiskSpec(item);
    } catch (err) {
      return r.fail(setting, (err as Error).message.replace(/^toolstack: /, ''));
    }
  });
  const vdevs = new Set<string>();
  for (const d of disks) {
    if (vdevs.has(d.vdev))
      r.fail(file.settings.get('disk') as XlSetting, `vdev ${d.vdev} is used twice`);
    vdevs.add(d.vdev);
  }
  const vifs = r.stringList('vif').map(({ item, setting }) => {
    try {
      return parseVifSpec(item);
    } catch (err) {
      return r.fail(setting, (err as Error).message.replace(/^toolstack: /, ''));
    }
  });

  const compat: Record<string, string | number | boolean> = {};
  for (const [key, kind] of Object.entries(COMPAT_KEYS)) {
    if (!file.settings.has(key)) continue;
    compat[key] =
      kind === 'bool'
        ? (r.bool(key) as boolean)
        : kind === 'int'
          ? (r.int(key, 0, 65535) as number)
          : (r.string(key) as string);
  }

  const config: { -readonly [K in keyof DomainConfig]: DomainConfig[K] } = {
    source: file.source,
    name,
    type,
    cmdline,
    memory,
    maxmem,
    vcpus,
    maxvcpus,
    cpuWeight: r.int('cpu_weight', 1, 65535) ?? 256,
    cap: r.int('cap', 0, 100 * MAX_VCPUS) ?? 0,
    disks,
    vifs,
    onPoweroff: r.action('on_poweroff', 'destroy'),
    onReboot: r.action('on_reboot', 'restart'),
    onCrash: r.action('on_crash', 'destroy'),
    compat,
  };
  if (uuid !== undefined) config.uuid = uuid.toLowerCase();
  if (kernel !== undefined) config.kernel = kernel;
  const ramdisk = r.string('ramdisk');
  if (ramdisk !== undefined) config.ramdisk = ramdisk;
  if (bootloader !== undefined) config.bootloader = bootloader;
  if (cpus !== undefined) config.cpus = cpus;
  return config;
}

/** Parses and checks the text of a domain configuration file in one step. */
export function parseDomainConfig(text: string, source = '<string>'): DomainConfig {
  return toDomainConfig(parseXlConfig(text, source));
}
