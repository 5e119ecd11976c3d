/**
 * `xl mem-set` and `xl mem-max` as libxl does them: memory sizes parsed as xl parses them, the
 * balloon target written to the guest's `memory/target` (KiB) for its balloon driver, and the
 * hypervisor maximum (XEN_DOMCTL_max_mem) set with libxl's 1 MiB slack.
 *
 * @see tools/xl/xl_utils.c (parse_mem_size_kb)
 * @see tools/libs/light/libxl_mem.c (libxl_set_memory_target, libxl_domain_setmaxmem)
 * @see xen/common/domctl.c (XEN_DOMCTL_max_mem)
 * @module
 */
import { ToolstackError } from '../errors.ts';

/** libxl's LIBXL_MAXMEM_CONSTANT: KiB added to a domain's maximum for Xen-heap slack. */
export const LIBXL_MAXMEM_CONSTANT = 1024;

/**
 * xl's `parse_mem_size_kb`: a decimal number with an optional one-letter unit (`b`, `k`, `m`,
 * `g`, `t`, either case; none means MiB). Returns KiB, or -1 when the text is not a size.
 */
export function parseMemSizeKb(text: string): number {
  // strtoll: leading white space, a sign, digits; with no digits the end is the start.
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  const digits = m?.[1] ?? '';
  const rest = m === null ? text : text.slice(m[0].length);
  if (rest.length > 1) return -1;
  const n = digits === '' ? 0 : Number(digits);
  if (!Number.isSafeInteger(n)) return -1;
  switch (rest.toLowerCase()) {
    case 't':
      return n * 1024 * 1024 * 1024;
    case 'g':
      return n * 1024 * 1024;
    case '':
    case 'm':
      return n * 1024;
    case 'k':
      return n;
    case 'b':
      return Math.floor(n / 1024);
    default:
      return -1;
  }
}

/** The xenstore operations the memory verbs use (a `XenstoreClient` fits). */
export interface MemoryStorePort {
  /** Reads a node's value. */
  readString(path: string): Promise<string>;
  /** Writes a node. */
  write(path: string, value: string): Promise<void>;
}

/** What the memory verbs change on a domain. */
export interface MemoryDomainPort {
  /** The domain. */
  readonly domid: number;
  /** Its UUID (`/vm/<uuid>/memory` holds the target in MiB, as libxl writes it). */
  readonly uuid: string;
  /** Sets the hypervisor's `max_pages` (XEN_DOMCTL_max_mem) from KiB. */
  setMaxKiB(kib: number): void;
}

async function readKib(xs: MemoryStorePort, path: string): Promise<number> {
  const text = await xs.readString(path).catch(() => undefined);
  const n = text === undefined ? Number.NaN : Number(text);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ToolstackError('STATE', `cannot get memory info from ${path}`);
  return n;
}

function checkSize(kib: number, what: string): void {
  if (!Number.isSafeInteger(kib) || kib <= 0)
    throw new ToolstackError('CONFIG', `invalid ${what}: ${kib} KiB`);
}

/**
 * `libxl_set_memory_target(ctx, domid, kib, relative = 0, enforce = 1)`, as `xl mem-set` calls
 * it: refuses a target above `memory/static-max`, raises or lowers the hypervisor maximum to
 * the target plus libxl's slack, writes `memory/target` (KiB) for the guest's balloon driver
 * and `/vm/<uuid>/memory` (MiB). The guest balloons on its own; nothing waits for it.
 */
export async function setMemoryTarget(
  xs: MemoryStorePort,
  dom: MemoryDomainPort,
  targetKiB: number,
): Promise<void> {
  checkSize(targetKiB, 'memory size');
  const dp = `/local/domain/${dom.domid}`;
  await readKib(xs, `${dp}/memory/target`);
  const staticMax = await readKib(xs, `${dp}/memory/static-max`);
  const videoram = await readKib(xs, `${dp}/memory/videoram`).catch(() => 0);
  const target = targetKiB - videoram;
  if (target > staticMax) {
    throw new ToolstackError(
      'STATE',
      `memory_dynamic_max must be less than or equal to memory_static_max (${target} > ${staticMax} KiB)`,
    );
  }
  dom.setMaxKiB(target + videoram + LIBXL_MAXMEM_CONSTANT);
  await xs.write(`${dp}/memory/target`, String(target));
  await xs.write(`/vm/${dom.uuid}/memory`, String(Math.floor(target / 1024)));
}

/**
 * `libxl_domain_setmaxmem`, as `xl mem-max` calls it: refuses a maximum below the current
 * `memory/target`, sets the hypervisor maximum to it plus libxl's slack (so populating beyond
 * it fails in the hypervisor), and writes `memory/static-max` (KiB).
 */
export async function setMaxMemory(
  xs: MemoryStorePort,
  dom: MemoryDomainPort,
  maxKiB: number,
): Promise<void> {
  checkSize(maxKiB, 'memory size');
  const dp = `/local/domain/${dom.domid}`;
  const target = await readKib(xs, `${dp}/memory/target`);
  if (maxKiB < target) {
    throw new ToolstackError(
      'STATE',
      `memory_static_max must be greater than or or equal to memory_dynamic_max (${maxKiB} < ${target} KiB)`,
    );
  }
  dom.setMaxKiB(maxKiB + LIBXL_MAXMEM_CONSTANT);
  await xs.write(`${dp}/memory/static-max`, String(maxKiB));
}
