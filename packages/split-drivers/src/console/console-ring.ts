/**
 * The PV console ring (`struct xencons_interface`, `xen/include/public/io/console.h`): `in[1024]`
 * carries keyboard input to the guest, `out[2048]` carries guest output to the backend, each
 * with free-running u32 indices masked by the buffer size.
 * @module
 */
import { dist32, pageView } from '../internal/page-view.ts';

/** Byte offsets of `struct xencons_interface` fields. @see xen/include/public/io/console.h */
export const XENCONS_OFFSETS: {
  /** `in[1024]`: input to the guest. */
  readonly in: 0;
  /** `out[2048]`: output from the guest. */
  readonly out: 1024;
  /** `in_cons`: input consumed by the guest. */
  readonly in_cons: 3072;
  /** `in_prod`: input produced by the backend. */
  readonly in_prod: 3076;
  /** `out_cons`: output consumed by the backend. */
  readonly out_cons: 3080;
  /** `out_prod`: output produced by the guest. */
  readonly out_prod: 3084;
  /** `connection`: {@link XENCONSOLE_CONNECTED} or {@link XENCONSOLE_DISCONNECTED}. */
  readonly connection: 3088;
} = {
  in: 0,
  out: 1024,
  in_cons: 3072,
  in_prod: 3076,
  out_cons: 3080,
  out_prod: 3084,
  connection: 3088,
} as const;

/** `sizeof(in)`. */
export const XENCONS_IN_SIZE = 1024;
/** `sizeof(out)`. */
export const XENCONS_OUT_SIZE = 2048;
/** `connection` value: the backend is attached. @see xen/include/public/io/console.h */
export const XENCONSOLE_CONNECTED = 0;
/** `connection` value: no backend yet (the domain builder's initial value). */
export const XENCONSOLE_DISCONNECTED = 1;

/** Bytes of the console interface actually used in the page. */
const XENCONS_SIZE = 3092;

function consoleView(page: Uint8Array): DataView {
  const view = pageView(page);
  if (page.byteLength < XENCONS_SIZE) throw new RangeError('split-drivers: console page too small');
  return view;
}

/** Copies `len` bytes out of a ring buffer starting at free-running index `from`. */
function readRing(
  page: Uint8Array,
  base: number,
  size: number,
  from: number,
  len: number,
): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = page[base + (((from + i) >>> 0) & (size - 1))] ?? 0;
  return out;
}

/** Copies `len` bytes of `src` into a ring buffer starting at free-running index `from`. */
function writeRing(
  page: Uint8Array,
  base: number,
  size: number,
  from: number,
  src: Uint8Array,
  len: number,
): void {
  for (let i = 0; i < len; i++) page[base + (((from + i) >>> 0) & (size - 1))] = src[i] ?? 0;
}

/**
 * Backend (xenconsoled) side of a console page: drains guest output and queues input. The guest
 * controls every index in the page, so lengths are clamped to the buffer sizes and each read
 * copies at most one buffer's worth, whatever the indices say.
 */
export class ConsoleBack {
  /** Times the guest's indices claimed more bytes than a buffer holds. */
  hostileIndexCount: number;
  private readonly page: Uint8Array;
  private readonly view: DataView;

  /** Attaches to a console page (mapped from the guest). */
  constructor(page: Uint8Array) {
    this.page = page;
    this.view = consoleView(page);
    this.hostileIndexCount = 0;
  }

  /** Marks the console connected (`connection = XENCONSOLE_CONNECTED`). */
  connect(): void {
    this.view.setUint8(XENCONS_OFFSETS.connection, XENCONSOLE_CONNECTED);
  }

  /** Bytes of guest output waiting, clamped to `sizeof(out)`. */
  pendingOutput(): number {
    const n = dist32(
      this.view.getUint32(XENCONS_OFFSETS.out_prod, true),
      this.view.getUint32(XENCONS_OFFSETS.out_cons, true),
    );
    return Math.min(n, XENCONS_OUT_SIZE);
  }

  /**
   * Drains all guest output and advances `out_cons` to `out_prod`. If the indices claim more than
   * 2048 bytes, only the newest 2048 are returned (as xenconsoled does) and the event is counted.
   * The caller notifies the guest afterwards so writers blocked on a full ring resume.
   */
  readOutput(): Uint8Array {
    const prod = this.view.getUint32(XENCONS_OFFSETS.out_prod, true);
    let cons = this.view.getUint32(XENCONS_OFFSETS.out_cons, true);
    if (dist32(prod, cons) > XENCONS_OUT_SIZE) {
      this.hostileIndexCount++;
      cons = (prod - XENCONS_OUT_SIZE) >>> 0;
    }
    const data = readRing(
      this.page,
      XENCONS_OFFSETS.out,
      XENCONS_OUT_SIZE,
      cons,
      dist32(prod, cons),
    );
    this.view.setUint32(XENCONS_OFFSETS.out_cons, prod, true);
    return data;
  }

  /**
   * Queues input for the guest: writes as many bytes as fit in `in[]`, advances `in_prod`, and
   * returns how many were written. If the guest's `in_cons` is inconsistent (more than 1024
   * bytes pending) nothing is written and the event is counted.
   */
  writeInput(bytes: Uint8Array): number {
    const prod = this.view.getUint32(XENCONS_OFFSETS.in_prod, true);
    const cons = this.view.getUint32(XENCONS_OFFSETS.in_cons, true);
    const used = dist32(prod, cons);
    if (used > XENCONS_IN_SIZE) {
      this.hostileIndexCount++;
      return 0;
    }
    const n = Math.min(XENCONS_IN_SIZE - used, bytes.length);
    writeRing(this.page, XENCONS_OFFSETS.in, XENCONS_IN_SIZE, prod, bytes, n);
    this.view.setUint32(XENCONS_OFFSETS.in_prod, (prod + n) >>> 0, true);
    return n;
  }
}

/**
 * Guest side of a console page, as Mini-OS, XTF or a TypeScript domain drives it: writes output,
 * reads input. Indices written by a hostile backend are clamped the same way.
 */
export class ConsoleFront {
  private readonly page: Uint8Array;
  private readonly view: DataView;

  /** Attaches to the domain's console page. */
  constructor(page: Uint8Array) {
    this.page = page;
    this.view = consoleView(page);
  }

  /** Whether the backend has marked the console connected. */
  isConnected(): boolean {
    return this.view.getUint8(XENCONS_OFFSETS.connection) === XENCONSOLE_CONNECTED;
  }

  /** Free bytes in `out[]` (0 if the backend's `out_cons` is inconsistent). */
  outputSpace(): number {
    const used = dist32(
      this.view.getUint32(XENCONS_OFFSETS.out_prod, true),
      this.view.getUint32(XENCONS_OFFSETS.out_cons, true),
    );
    return used > XENCONS_OUT_SIZE ? 0 : XENCONS_OUT_SIZE - used;
  }

  /** Writes as much of `bytes` as fits, advances `out_prod`, and returns the count written. */
  write(bytes: Uint8Array): number {
    const prod = this.view.getUint32(XENCONS_OFFSETS.out_prod, true);
    const n = Math.min(this.outputSpace(), bytes.length);
    writeRing(this.page, XENCONS_OFFSETS.out, XENCONS_OUT_SIZE, prod, bytes, n);
    this.view.setUint32(XENCONS_OFFSETS.out_prod, (prod + n) >>> 0, true);
    return n;
  }

  /** True once the backend has consumed everything written (what XTF and GRUB wait for). */
  isDrained(): boolean {
    return (
      this.view.getUint32(XENCONS_OFFSETS.out_prod, true) ===
      this.view.getUint32(XENCONS_OFFSETS.out_cons, true)
    );
  }

  /** Reads all pending input (at most 1024 bytes) and advances `in_cons`. */
  read(): Uint8Array {
    const prod = this.view.getUint32(XENCONS_OFFSETS.in_prod, true);
    const cons = this.view.getUint32(XENCONS_OFFSETS.in_cons, true);
    let n = dist32(prod, cons);
    if (n > XENCONS_IN_SIZE) n = 0; // inconsistent backend: ignore rather than read garbage
    const data = readRing(this.page, XENCONS_OFFSETS.in, XENCONS_IN_SIZE, cons, n);
    this.view.setUint32(XENCONS_OFFSETS.in_cons, (cons + n) >>> 0, true);
    return data;
  }
}
