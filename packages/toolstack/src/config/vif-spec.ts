/**
 * xl's network interface specification strings (`vif = [ '…' ]`): comma-separated
 * `key=value` pairs (`mac=`, `bridge=`, `ip=`, `rate=`, `vifname=`, `type=`, `model=`,
 * `script=`, `backend=`, `gatewayip=`, `mtu=`, `devid=`), plus `vlan=` and Open vSwitch
 * style `bridge=NAME.VLAN` for a VLAN tag. Rates follow xl: `RATE/s[@INTERVAL]` with RATE
 * in bytes (`B`) or bits (`b`) with an optional `K`, `M` or `G` prefix, and INTERVAL in
 * `s`, `ms` or `us` (default 50 ms).
 *
 * @see xen/docs/misc/xl-network-configuration.markdown, tools/libs/util/libxlu_vif.c
 */
import { ToolstackError } from '../errors.ts';

/** A per-VIF transmit rate limit, as credit per replenish interval. */
export interface VifRate {
  /** Bytes the VIF may send per interval. */
  readonly bytesPerInterval: number;
  /** The replenish interval in microseconds. */
  readonly intervalUs: number;
}

/** A parsed VIF specification; absent keys take the toolstack's defaults. */
export interface VifSpec {
  /** MAC address, lower-case `xx:xx:xx:xx:xx:xx`. */
  readonly mac?: string;
  /** The bridge (virtual switch) to attach to. */
  readonly bridge?: string;
  /** 802.1Q VLAN id (1–4094) for the port. */
  readonly vlan?: number;
  /** IP addresses the guest may use (anti-spoofing), dotted quads. */
  readonly ip?: readonly string[];
  /** Transmit rate limit. */
  readonly rate?: VifRate;
  /** The backend interface name. */
  readonly vifname?: string;
  /** `vif` (PV) or `ioemu` (emulated, HVM only). */
  readonly type?: 'vif' | 'ioemu';
  /** Emulated NIC model (HVM). */
  readonly model?: string;
  /** Hotplug script. */
  readonly script?: string;
  /** Backend domain name. */
  readonly backend?: string;
  /** Gateway IP (routed networking). */
  readonly gatewayip?: string;
  /** MTU in bytes. */
  readonly mtu?: number;
  /** Device id. */
  readonly devid?: number;
}

function fail(spec: string, msg: string): never {
  throw new ToolstackError('CONFIG', `vif spec '${spec}': ${msg}`);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parses an xl rate (`10Mb/s`, `1MB/s@20ms`); throws a `CONFIG` error naming the problem. */
export function parseVifRate(text: string, spec: string = text): VifRate {
  const m = /^(\d+)([KMG]?)([Bb])\/s(?:@(\d+)(s|ms|us))?$/.exec(text);
  if (m === null) fail(spec, `invalid rate '${text}' (expected e.g. 10Mb/s or 1MB/s@20ms)`);
  const scale = { '': 1, K: 1e3, M: 1e6, G: 1e9 }[m[2] as '' | 'K' | 'M' | 'G'];
  const bytesPerSecond = (Number(m[1]) * scale) / (m[3] === 'b' ? 8 : 1);
  const intervalUs =
    m[4] === undefined
      ? 50_000
      : Number(m[4]) * { s: 1e6, ms: 1e3, us: 1 }[m[5] as 's' | 'ms' | 'us'];
  if (intervalUs <= 0) fail(spec, `rate interval must be positive in '${text}'`);
  if (bytesPerSecond <= 0) fail(spec, `rate must be positive in '${text}'`);
  const bytesPerInterval = Math.floor((bytesPerSecond * intervalUs) / 1e6);
  if (!Number.isSafeInteger(bytesPerInterval) || bytesPerInterval < 1) {
    fail(spec, `rate '${text}' is out of range`);
  }
  return { bytesPerInterval, intervalUs };
}

function int(spec: string, key: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    fail(spec, `${key} must be an integer from ${min} to ${max}, got '${v}'`);
  }
  return Number(v);
}

/** Parses one xl VIF specification; throws a `CONFIG` {@link ToolstackError} naming the problem. */
export function parseVifSpec(spec: string): VifSpec {
  const out: { -readonly [K in keyof VifSpec]: VifSpec[K] } = {};
  const seen = new Set<string>();
  for (const raw of spec.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) fail(spec, `expected key=value, got '${part}'`);
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (seen.has(key)) fail(spec, `${key} given twice`);
    seen.add(key);
    switch (key) {
      case 'mac':
        if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(v)) fail(spec, `invalid mac '${v}'`);
        if ((Number.parseInt(v.slice(0, 2), 16) & 1) !== 0)
          fail(spec, `mac '${v}' is a multicast address`);
        out.mac = v.toLowerCase();
        break;
      case 'bridge': {
        const m = /^([^.:\s]+)(?:\.(\d+))?$/.exec(v);
        if (m === null) fail(spec, `invalid bridge '${v}'`);
        out.bridge = m[1] as string;
        if (m[2] !== undefined) out.vlan = int(spec, 'bridge VLAN', m[2], 1, 4094);
        break;
      }
      case 'vlan':
        out.vlan = int(spec, 'vlan', v, 1, 4094);
        break;
      case 'ip': {
        const ips = v.split(/\s+/).filter((s) => s !== '');
        for (const ip of ips) if (!IPV4.test(ip)) fail(spec, `invalid ip '${ip}'`);
        if (ips.length === 0) fail(spec, 'ip= needs at least one address');
        out.ip = ips;
        break;
      }
      case 'rate':
        out.rate = parseVifRate(v, spec);
        break;
      case 'type':
        if (v !== 'vif' && v !== 'ioemu') fail(spec, `type must be vif or ioemu, got '${v}'`);
        out.type = v;
        break;
      case 'gatewayip':
        if (!IPV4.test(v)) fail(spec, `invalid gatewayip '${v}'`);
        out.gatewayip = v;
        break;
      case 'mtu':
        out.mtu = int(spec, 'mtu', v, 68, 65535);
        break;
      case 'devid':
        out.devid = int(spec, 'devid', v, 0, 65535);
        break;
      case 'vifname':
      case 'model':
      case 'script':
      case 'backend':
        if (v === '') fail(spec, `${key} must not be empty`);
        out[key] = v;
        break;
      default:
        fail(spec, `unknown parameter '${key}'`);
    }
  }
  return out;
}
