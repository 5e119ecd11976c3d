/**
 * The store's request dispatcher without any I/O: READ, WRITE and DIRECTORY messages
 * through `Xenstore.handle()` including reply encoding. This is the per-request CPU cost
 * the daemon adds on top of the socket; it backs the allocation-free header codec.
 */
import { Xenstore } from '@typevisor/xenstore';
import { encodeMessage } from '@typevisor/xenstore/wire';
import { defineSuite } from '../harness.ts';
import { arg } from './support.ts';

const xs = new Xenstore();
let bytes = 0;
const conn = xs.connect(0, (m) => {
  bytes += encodeMessage(m).length;
});
const writes = Array.from({ length: 100 }, (_, i) => arg(`/d/n${i}`, '0123456789abcdef'));
const reads = Array.from({ length: 100 }, (_, i) => arg(`/d/n${i}`));
for (const w of writes) xs.handle(conn, { type: 11, reqId: 0, txId: 0, payload: w });
const dir = arg('/d');

export default defineSuite({
  name: 'xenstore/dispatch',
  description:
    'Requests through the in-process xenstore dispatcher (no I/O), reply encoding included.',
  unit: 'requests/s',
  cases: [
    {
      name: 'read',
      run(iters) {
        for (let i = 0; i < iters; i++)
          xs.handle(conn, { type: 2, reqId: i, txId: 0, payload: reads[i % 100] as Uint8Array });
        return bytes;
      },
    },
    {
      name: 'write',
      run(iters) {
        for (let i = 0; i < iters; i++)
          xs.handle(conn, { type: 11, reqId: i, txId: 0, payload: writes[i % 100] as Uint8Array });
        return bytes;
      },
    },
    {
      name: 'directory-100',
      run(iters) {
        for (let i = 0; i < iters; i++)
          xs.handle(conn, { type: 1, reqId: i, txId: 0, payload: dir });
        return bytes;
      },
    },
  ],
});
