/**
 * Transport checksum completion for frames a guest sends with `NETTXF_csum_blank` (checksum
 * offload): the backend fills in the TCP or UDP checksum the guest left blank, as Linux
 * netback does with `skb_checksum_setup` before the frame leaves the host.
 * @see xen/include/public/io/netif.h NETTXF_csum_blank
 * @module
 */

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** Adds big-endian 16-bit words of `f[from..to)` to `sum` (an odd last byte is padded with 0). */
function sum16(f: Uint8Array, from: number, to: number, sum: number): number {
  let s = sum;
  let i = from;
  for (; i + 1 < to; i += 2) s += ((f[i] as number) << 8) | (f[i + 1] as number);
  if (i < to) s += (f[i] as number) << 8;
  return s; // ≤ 32 Ki words of ≤ 0xffff: exact in a double, folded once at the end
}

function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/**
 * Fills in the TCP or UDP checksum of an Ethernet frame (untagged or with one 802.1Q tag,
 * IPv4 or IPv6 without extension headers), ignoring whatever the checksum field held (a guest
 * using offload leaves the pseudo-header sum or zero there). Only the two checksum bytes are
 * written. Returns false, leaving the frame untouched, when the frame is not a complete,
 * unfragmented TCP or UDP packet whose headers lie inside the frame: the caller drops it.
 */
export function completeTransportChecksum(frame: Uint8Array): boolean {
  const len = frame.length;
  if (len < 14) return false;
  let l3 = 14;
  let type = ((frame[12] as number) << 8) | (frame[13] as number);
  if (type === ETH_P_8021Q) {
    if (len < 18) return false;
    type = ((frame[16] as number) << 8) | (frame[17] as number);
    l3 = 18;
  }
  let proto: number;
  let l4: number;
  let l4len: number;
  let sum: number;
  if (type === ETH_P_IP) {
    if (len < l3 + 20 || (frame[l3] as number) >> 4 !== 4) return false;
    const ihl = ((frame[l3] as number) & 15) * 4;
    const total = ((frame[l3 + 2] as number) << 8) | (frame[l3 + 3] as number);
    const fragment = (((frame[l3 + 6] as number) << 8) | (frame[l3 + 7] as number)) & 0x3fff;
    if (ihl < 20 || total < ihl || l3 + total > len || fragment !== 0) return false;
    proto = frame[l3 + 9] as number;
    l4 = l3 + ihl;
    l4len = total - ihl;
    sum = sum16(frame, l3 + 12, l3 + 20, proto + l4len); // addresses, protocol, length
  } else if (type === ETH_P_IPV6) {
    if (len < l3 + 40 || (frame[l3] as number) >> 4 !== 6) return false;
    const payload = ((frame[l3 + 4] as number) << 8) | (frame[l3 + 5] as number);
    if (l3 + 40 + payload > len) return false;
    proto = frame[l3 + 6] as number;
    l4 = l3 + 40;
    l4len = payload;
    sum = sum16(frame, l3 + 8, l3 + 40, proto + l4len);
  } else {
    return false;
  }
  let at: number;
  if (proto === IPPROTO_TCP) {
    if (l4len < 20) return false;
    at = l4 + 16;
  } else if (proto === IPPROTO_UDP) {
    if (l4len < 8) return false;
    at = l4 + 6;
  } else {
    return false;
  }
  // Sum the segment with the checksum field counted as zero.
  sum = sum16(frame, l4, at, sum);
  sum = sum16(frame, at + 2, l4 + l4len, sum);
  let csum = ~fold(sum) & 0xffff;
  if (csum === 0 && proto === IPPROTO_UDP) csum = 0xffff; // RFC 768: 0 means "no checksum"
  frame[at] = csum >> 8;
  frame[at + 1] = csum & 0xff;
  return true;
}
