import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isLegalTransition,
  listBackendDevices,
  listFrontendDevices,
  parseXenbusState,
  plugDevice,
  SplitDriversError,
  switchState,
  unplugDevice,
  vbdDeviceNumber,
  waitForState,
  watchBackendDevices,
  XenbusState,
  xenbusStateName,
} from '../src/index.ts';
import { MemoryXenstore } from '../src/testing/index.ts';

describe('xenbus states', () => {
  it('uses the xenbus.h numbering and names', () => {
    expect(Object.values(XenbusState)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(xenbusStateName(XenbusState.XenbusStateInitWait)).toBe('InitWait');
    expect(xenbusStateName(42)).toBe('Invalid(42)');
  });

  it('reads anything but a decimal 0..8 as Unknown (property)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const st = parseXenbusState(s);
        expect(st).toBe(/^[0-8]$/.test(s) ? Number(s) : 0);
      }),
    );
    expect(parseXenbusState(undefined)).toBe(0);
    expect(parseXenbusState('4 ')).toBe(0);
  });

  it('allows the handshake, its shortcuts and teardown, and nothing backwards', () => {
    const S = XenbusState;
    expect(isLegalTransition(S.XenbusStateInitialising, S.XenbusStateInitWait)).toBe(true);
    expect(isLegalTransition(S.XenbusStateInitialising, S.XenbusStateConnected)).toBe(true); // Mini-OS
    expect(isLegalTransition(S.XenbusStateInitWait, S.XenbusStateConnected)).toBe(true);
    expect(isLegalTransition(S.XenbusStateConnected, S.XenbusStateClosing)).toBe(true);
    expect(isLegalTransition(S.XenbusStateClosed, S.XenbusStateInitialising)).toBe(true); // re-init
    expect(isLegalTransition(S.XenbusStateConnected, S.XenbusStateReconfiguring)).toBe(true);
    expect(isLegalTransition(S.XenbusStateReconfigured, S.XenbusStateConnected)).toBe(true);
    expect(isLegalTransition(S.XenbusStateConnected, S.XenbusStateInitWait)).toBe(false);
    expect(isLegalTransition(S.XenbusStateClosing, S.XenbusStateConnected)).toBe(false);
    expect(isLegalTransition(S.XenbusStateUnknown, S.XenbusStateConnected)).toBe(false);
    expect(isLegalTransition(9, 9)).toBe(false);
    for (let s = 1; s <= 8; s++) expect(isLegalTransition(s, S.XenbusStateClosed)).toBe(true);
  });

  it('refuses an illegal transition of its own end with INVALID_STATE', async () => {
    const xs = new MemoryXenstore();
    const c = xs.client();
    await c.write('/d/state', '4');
    await expect(switchState(c, '/d', XenbusState.XenbusStateInitWait)).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    await expect(switchState(c, '/d', XenbusState.XenbusStateInitWait)).rejects.toBeInstanceOf(
      SplitDriversError,
    );
    await switchState(c, '/d', XenbusState.XenbusStateClosing);
    expect(xs.get('/d/state')).toBe('5');
  });

  it('waits for a state that is reached before or after the watch is set', async () => {
    const xs = new MemoryXenstore();
    const c = xs.client();
    await c.write('/b/state', '2');
    expect(await waitForState(c, '/b', (s) => s === 2)).toBe(2);
    const later = waitForState(c, '/b', (s) => s === 4);
    await c.write('/b/state', '3');
    await c.write('/b/state', '4');
    expect(await later).toBe(4);
  });
});

describe('device numbering', () => {
  it('numbers disks as xen-vbd-interface.7 does', () => {
    expect(vbdDeviceNumber('xvda')).toBe(51712);
    expect(vbdDeviceNumber('xvdb1')).toBe(51729);
    expect(vbdDeviceNumber('hda')).toBe(768);
    expect(vbdDeviceNumber('hdc')).toBe(22 << 8);
    expect(vbdDeviceNumber('sda')).toBe(2048);
    expect(vbdDeviceNumber('xvdq')).toBe((1 << 28) | (16 << 8));
    expect(vbdDeviceNumber('768')).toBe(768);
    expect(() => vbdDeviceNumber('floppy')).toThrow(SplitDriversError);
  });
});

describe('hot-plug', () => {
  const spec = {
    type: 'vbd',
    devid: 51712,
    backendDomid: 0,
    frontendDomid: 3,
    backendKeys: { mode: 'w', dev: 'xvda', 'device-type': 'disk' },
    frontendKeys: { 'virtual-device': '51712', 'device-type': 'disk' },
  } as const;

  it('writes the directories libxl writes and makes the device discoverable from both ends', async () => {
    const xs = new MemoryXenstore();
    const c = xs.client();
    const paths = await plugDevice(c, spec);
    expect(xs.dump('/local/domain')).toMatchInlineSnapshot(`
      {
        "/local/domain": "",
        "/local/domain/0": "",
        "/local/domain/0/backend": "",
        "/local/domain/0/backend/vbd": "",
        "/local/domain/0/backend/vbd/3": "",
        "/local/domain/0/backend/vbd/3/51712": "",
        "/local/domain/0/backend/vbd/3/51712/dev": "xvda",
        "/local/domain/0/backend/vbd/3/51712/device-type": "disk",
        "/local/domain/0/backend/vbd/3/51712/frontend": "/local/domain/3/device/vbd/51712",
        "/local/domain/0/backend/vbd/3/51712/frontend-id": "3",
        "/local/domain/0/backend/vbd/3/51712/mode": "w",
        "/local/domain/0/backend/vbd/3/51712/online": "1",
        "/local/domain/0/backend/vbd/3/51712/state": "1",
        "/local/domain/3": "",
        "/local/domain/3/device": "",
        "/local/domain/3/device/vbd": "",
        "/local/domain/3/device/vbd/51712": "",
        "/local/domain/3/device/vbd/51712/backend": "/local/domain/0/backend/vbd/3/51712",
        "/local/domain/3/device/vbd/51712/backend-id": "0",
        "/local/domain/3/device/vbd/51712/device-type": "disk",
        "/local/domain/3/device/vbd/51712/state": "1",
        "/local/domain/3/device/vbd/51712/virtual-device": "51712",
      }
    `);
    expect(paths.backend).toBe('/local/domain/0/backend/vbd/3/51712');
    expect(await listFrontendDevices(c, 3, 'vbd')).toEqual([51712]);
    expect(await listBackendDevices(c, 0, 'vbd')).toEqual([{ frontendDomid: 3, devid: 51712 }]);
  });

  it('unplugs by asking the backend to close, waiting for Closed, then removing both directories', async () => {
    const xs = new MemoryXenstore();
    const c = xs.client();
    const paths = await plugDevice(c, spec);
    await c.write(`${paths.backend}/state`, '4');
    // A stand-in backend driver: closes when asked.
    const unwatch = await c.watch(`${paths.backend}/state`, () => {
      if (xs.get(`${paths.backend}/state`) === '5') xs.write(`${paths.backend}/state`, '6');
    });
    await unplugDevice(c, spec);
    await unwatch();
    expect(xs.dump('/local/domain/3/device')).toEqual({
      '/local/domain/3/device': '',
      '/local/domain/3/device/vbd': '',
    });
    expect(await listBackendDevices(c, 0, 'vbd')).toEqual([]);
  });
});

describe('backend device discovery', () => {
  it('reports devices as the toolstack plugs and unplugs them', async () => {
    const xs = new MemoryXenstore();
    const c = xs.client();
    const seen: string[] = [];
    const spec = (devid: number) => ({ type: 'vbd', devid, backendDomid: 0, frontendDomid: 3 });
    await plugDevice(c, spec(768));
    const stop = await watchBackendDevices(c, 0, 'vbd', {
      added: (d) => {
        seen.push(`+${d.frontendDomid}/${d.devid}`);
      },
      removed: (d) => {
        seen.push(`-${d.devid}`);
      },
    });
    const settle = async () => {
      for (let i = 0; i < 50; i++) await Promise.resolve();
    };
    await settle();
    await plugDevice(c, spec(51712));
    await settle();
    await unplugDevice(c, spec(768), true);
    await settle();
    await stop();
    expect(seen).toEqual(['+3/768', '+3/51712', '-768']);
  });
});
