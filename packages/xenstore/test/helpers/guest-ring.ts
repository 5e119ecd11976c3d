/** The guest's side of a xenstore ring page, as a PV driver drives it (for tests). */
import { XenstoreRingLayout as L, XENSTORE_RING_SIZE } from '../../src/ring.ts';
import { encodeMessage, MessageReader, type XsMessage } from '../../src/wire/codec.ts';

/** The guest's side of the page, as a PV driver would drive it. */
export class GuestRing {
  readonly page: Uint8Array;
  readonly view: DataView;
  readonly reader = new MessageReader();
  readonly received: XsMessage[] = [];
  notifications = 0;
  constructor(start: number, page: Uint8Array = new Uint8Array(4096)) {
    this.page = page;
    this.view = new DataView(page.buffer, page.byteOffset, page.byteLength);
    for (const off of [L.req_cons, L.req_prod, L.rsp_cons, L.rsp_prod])
      this.view.setUint32(off, start, true);
  }
  /** Writes as much of `bytes` as fits; returns how many bytes were written. */
  write(bytes: Uint8Array): number {
    const cons = this.view.getUint32(L.req_cons, true);
    const prod = this.view.getUint32(L.req_prod, true);
    const n = Math.min(bytes.length, XENSTORE_RING_SIZE - ((prod - cons) >>> 0));
    for (let i = 0; i < n; i++) this.page[L.req + ((prod + i) & 1023)] = bytes[i] as number;
    this.view.setUint32(L.req_prod, (prod + n) >>> 0, true);
    return n;
  }
  /** Consumes everything in rsp[]. */
  read(): void {
    const cons = this.view.getUint32(L.rsp_cons, true);
    const prod = this.view.getUint32(L.rsp_prod, true);
    const n = (prod - cons) >>> 0;
    const chunk = new Uint8Array(n);
    for (let i = 0; i < n; i++) chunk[i] = this.page[L.rsp + ((cons + i) & 1023)] as number;
    this.view.setUint32(L.rsp_cons, (cons + n) >>> 0, true);
    this.reader.push(chunk, (m) => this.received.push(m));
  }
}

/** Encodes and writes one request, returning false if it did not fit. */
export function sendRequest(g: GuestRing, type: number, payload: string, reqId = 0): boolean {
  const b = encodeMessage({ type, reqId, txId: 0, payload: Buffer.from(payload, 'latin1') });
  return g.write(b) === b.length;
}
