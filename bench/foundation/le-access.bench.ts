/**
 * Reading little-endian 32-bit ring indices from a shared 4 KiB page: an aligned `Uint32Array`
 * view, `DataView.getUint32(off, true)`, and assembling four bytes by hand. It tests the house
 * rule that hot ring paths use typed-array views: on Node 20 an aligned `DataView` load measured
 * about as fast as the `Uint32Array` view (docs/benchmarks.md), so either serves ring indices;
 * assembling bytes by hand is the one to avoid.
 */
import { defineSuite } from '../harness.ts';

const page = new ArrayBuffer(4096);
const u8 = new Uint8Array(page);
const u32 = new Uint32Array(page);
const view = new DataView(page);
for (let i = 0; i < 4096; i++) u8[i] = (i * 131 + 7) & 0xff;

// 64 index words spread over the page, as ring headers of several devices would be.
const OFFSETS = new Int32Array(64);
for (let i = 0; i < 64; i++) OFFSETS[i] = (i * 64) & 0xffc;

export default defineSuite({
  name: 'foundation/le-access',
  description:
    'Little-endian u32 loads from a 4 KiB shared page (ring indices): Uint32Array view vs DataView vs byte assembly.',
  unit: 'M loads/s',
  opsPerIter: 64,
  divisor: 1e6,
  cases: [
    {
      name: 'uint32array',
      run(iters) {
        let sum = 0;
        for (let n = 0; n < iters; n++) {
          for (let i = 0; i < 64; i++)
            sum = (sum + (u32[(OFFSETS[i] as number) >> 2] as number)) | 0;
        }
        return sum;
      },
    },
    {
      name: 'dataview',
      run(iters) {
        let sum = 0;
        for (let n = 0; n < iters; n++) {
          for (let i = 0; i < 64; i++) sum = (sum + view.getUint32(OFFSETS[i] as number, true)) | 0;
        }
        return sum;
      },
    },
    {
      name: 'bytes',
      run(iters) {
        let sum = 0;
        for (let n = 0; n < iters; n++) {
          for (let i = 0; i < 64; i++) {
            const o = OFFSETS[i] as number;
            const v =
              (u8[o] as number) |
              ((u8[o + 1] as number) << 8) |
              ((u8[o + 2] as number) << 16) |
              ((u8[o + 3] as number) << 24);
            sum = (sum + v) | 0;
          }
        }
        return sum;
      },
    },
  ],
});
