/**
 * XenBus device states and the transitions drivers may make.
 * @module
 */
import { SplitDriversError } from '../errors.ts';
import type { XenbusClient } from '../ports.ts';

/** `enum xenbus_state`, stored as a decimal string in each end's `state` key. @see xen/include/public/io/xenbus.h */
export const XenbusState: {
  /** 0: no state yet (node missing or unreadable). */
  readonly XenbusStateUnknown: 0;
  /** 1: the toolstack created the device; the driver is setting up. */
  readonly XenbusStateInitialising: 1;
  /** 2: backend has published its features and waits for the frontend. */
  readonly XenbusStateInitWait: 2;
  /** 3: frontend has published ring refs and event channel. */
  readonly XenbusStateInitialised: 3;
  /** 4: connected; I/O may flow. */
  readonly XenbusStateConnected: 4;
  /** 5: shutting down. */
  readonly XenbusStateClosing: 5;
  /** 6: closed. */
  readonly XenbusStateClosed: 6;
  /** 7: reconfiguration requested. */
  readonly XenbusStateReconfiguring: 7;
  /** 8: reconfiguration done. */
  readonly XenbusStateReconfigured: 8;
} = {
  XenbusStateUnknown: 0,
  XenbusStateInitialising: 1,
  XenbusStateInitWait: 2,
  XenbusStateInitialised: 3,
  XenbusStateConnected: 4,
  XenbusStateClosing: 5,
  XenbusStateClosed: 6,
  XenbusStateReconfiguring: 7,
  XenbusStateReconfigured: 8,
} as const;

/** One of the {@link XenbusState} values. */
export type XenbusStateValue = (typeof XenbusState)[keyof typeof XenbusState];

const NAMES = [
  'Unknown',
  'Initialising',
  'InitWait',
  'Initialised',
  'Connected',
  'Closing',
  'Closed',
  'Reconfiguring',
  'Reconfigured',
] as const;

/** The state's name as `xenbus_strstate` prints it (`"Connected"`). */
export function xenbusStateName(state: number): string {
  return NAMES[state] ?? `Invalid(${state})`;
}

/**
 * Parses a `state` node value. Anything that is not exactly a decimal 0–8 (a missing node,
 * garbage a hostile peer wrote) reads as Unknown, as Linux's `xenbus_read_driver_state` does.
 */
export function parseXenbusState(value: string | undefined): XenbusStateValue {
  if (value === undefined || !/^[0-8]$/.test(value)) return XenbusState.XenbusStateUnknown;
  return Number(value) as XenbusStateValue;
}

// Allowed next states per state (bit i set = may move to state i). Any state may also stay put.
// Derived from the xenbus.h / blkif.h handshake diagrams: forward through the handshake (states
// may be skipped, as Mini-OS and GRUB do), to Closing/Closed at any time, Closed back to
// Initialising (frontend re-init) and the Reconfiguring/Reconfigured detour from Connected.
const NEXT: readonly number[] = [
  0b000000010, // Unknown → Initialising
  0b001111100, // Initialising → InitWait, Initialised, Connected, Closing, Closed
  0b001111000, // InitWait → Initialised, Connected, Closing, Closed
  0b001110000, // Initialised → Connected, Closing, Closed
  0b011100000, // Connected → Closing, Closed, Reconfiguring
  0b001000000, // Closing → Closed
  0b000000011, // Closed → Unknown (node removed), Initialising
  0b101100000, // Reconfiguring → Closing, Closed, Reconfigured
  0b001110000, // Reconfigured → Connected, Closing, Closed
];

/** Whether a driver may move its end from `from` to `to` (staying in the same state is allowed). */
export function isLegalTransition(from: number, to: number): boolean {
  if (from === to) return from >= 0 && from <= 8;
  const mask = NEXT[from];
  return mask !== undefined && to >= 0 && to <= 8 && ((mask >> to) & 1) === 1;
}

/**
 * Moves this driver's own end to `to`, writing `<dir>/state`. Throws `INVALID_STATE` for an
 * illegal transition: that is a driver bug, not guest input.
 */
export async function switchState(
  client: XenbusClient,
  dir: string,
  to: XenbusStateValue,
): Promise<void> {
  const from = parseXenbusState(await client.read(`${dir}/state`));
  if (!isLegalTransition(from, to)) {
    throw new SplitDriversError(
      'INVALID_STATE',
      `illegal xenbus transition ${xenbusStateName(from)} -> ${xenbusStateName(to)} at ${dir}`,
    );
  }
  if (from !== to) await client.write(`${dir}/state`, String(to));
}

/**
 * Resolves with the other end's state once `accept` returns true for it, using an `XS_WATCH` on
 * `<dir>/state` (which fires once at registration, so a state reached earlier is seen).
 */
export function waitForState(
  client: XenbusClient,
  dir: string,
  accept: (state: XenbusStateValue) => boolean,
): Promise<XenbusStateValue> {
  return new Promise((resolve, reject) => {
    let done = false;
    let unwatch: (() => Promise<void>) | undefined;
    const check = (): void => {
      client.read(`${dir}/state`).then((v) => {
        const s = parseXenbusState(v);
        if (done || !accept(s)) return;
        done = true;
        resolve(s);
        if (unwatch !== undefined) void unwatch();
      }, reject);
    };
    client.watch(`${dir}/state`, check).then((u) => {
      unwatch = u;
      if (done) void u();
    }, reject);
  });
}
