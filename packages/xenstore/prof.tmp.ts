import { encodeMessage, MessageReader } from './src/wire/codec.ts';
import { Xenstore } from './src/xenstore.ts';

const xs = new Xenstore();
let n = 0;
const c = xs.connect(0, (m) => {
  n += encodeMessage(m).length;
});
const w = Buffer.from('/bench/node-42\0abcdefghijklmnop');
const r = Buffer.from('/bench/node-42\0');
xs.handle(c, { type: 11, reqId: 0, txId: 0, payload: w });
const reader = new MessageReader();
const rbytes = encodeMessage({ type: 2, reqId: 1, txId: 0, payload: r });
for (const [name, fn] of [
  ['write', () => xs.handle(c, { type: 11, reqId: 0, txId: 0, payload: w })],
  ['read', () => xs.handle(c, { type: 2, reqId: 0, txId: 0, payload: r })],
  ['read+codec', () => reader.push(rbytes, (m) => xs.handle(c, m))],
] as const) {
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    for (let i = 0; i < 200000; i++) fn();
    const dt = performance.now() - t;
    console.log(name, ((200000 / dt) * 1000).toFixed(0), 'ops/s');
  }
}
