import { describe, expect, it } from 'vitest';
import { parseDiskSpec, parseVifRate, parseVifSpec, ToolstackError } from '../src/index.ts';

function err(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ToolstackError);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('xl disk specifications', () => {
  it('reads the book xm forms with a deprecated prefix: target, vdev, access', () => {
    expect(parseDiskSpec('phy:/dev/VolGroup00/root-TEST-FC6,xvda,w')).toEqual({
      target: '/dev/VolGroup00/root-TEST-FC6',
      format: 'raw',
      vdev: 'xvda',
      access: 'w',
      shared: false,
      devtype: 'disk',
      prefix: 'phy',
    });
    expect(parseDiskSpec('tap:qcow:/server/qcow.img,xvda,w')).toMatchObject({
      target: '/server/qcow.img',
      format: 'qcow',
      vdev: 'xvda',
      prefix: 'tap',
    });
    expect(parseDiskSpec('phy:/dev/vg1/xenstore, sda2,w!')).toMatchObject({
      target: '/dev/vg1/xenstore',
      vdev: 'sda2',
      access: 'w',
      shared: true,
    });
  });

  it('reads xl positional order without a prefix: target, format, vdev, access', () => {
    expect(parseDiskSpec('/srv/disk.qcow2,qcow2,xvdb,r')).toMatchObject({
      target: '/srv/disk.qcow2',
      format: 'qcow2',
      vdev: 'xvdb',
      access: 'r',
    });
    expect(parseDiskSpec('/srv/a.img,,xvda')).toMatchObject({
      format: 'raw',
      vdev: 'xvda',
      access: 'w',
    });
  });

  it('reads keyword parameters and target= which takes the rest of the string', () => {
    expect(parseDiskSpec('format=qcow2, vdev=xvdc, access=ro, target=/x,y=z.img')).toMatchObject({
      target: '/x,y=z.img',
      format: 'qcow2',
      vdev: 'xvdc',
      access: 'r',
    });
    expect(parseDiskSpec(',hdc:cdrom,r')).toMatchObject({
      target: '',
      format: 'empty',
      vdev: 'hdc',
      devtype: 'cdrom',
    });
    expect(parseDiskSpec(',,hdc:cdrom,r')).toMatchObject({
      target: '',
      format: 'raw',
      vdev: 'hdc',
      devtype: 'cdrom',
    });
    expect(parseDiskSpec('vdev=xvda,discard,backendtype=qdisk,target=/a')).toMatchObject({
      discard: true,
      backendtype: 'qdisk',
    });
  });

  it('rejects what xl rejects, naming the offending part', () => {
    expect(err(() => parseDiskSpec('/a.img,xvda,w'))).toBe(
      "toolstack: disk spec '/a.img,xvda,w': unknown value for format (near 'xvda')",
    );
    expect(err(() => parseDiskSpec('phy:/a,xvda,w,extra'))).toMatch(
      /too many positional parameters \(near 'extra'\)/,
    );
    expect(err(() => parseDiskSpec('bogus:/a,xvda,w'))).toMatch(/unknown deprecated disk prefix/);
    expect(err(() => parseDiskSpec('phy:/a,xvda,rwx'))).toMatch(
      /unknown value for access \(near 'rwx'\)/,
    );
    expect(err(() => parseDiskSpec('color=red,target=/a'))).toMatch(
      /unknown parameter \(near 'color=red'\)/,
    );
    expect(err(() => parseDiskSpec('format=raw,format=qcow2,vdev=x,target=/a'))).toMatch(
      /format respecified/,
    );
    expect(err(() => parseDiskSpec('phy:/a'))).toMatch(/no vdev/);
  });
});

describe('xl vif specifications', () => {
  it('reads the book forms and xl keys', () => {
    expect(parseVifSpec('mac=00:16:3E:42:83:34, bridge=xenbr0')).toEqual({
      mac: '00:16:3e:42:83:34',
      bridge: 'xenbr0',
    });
    expect(parseVifSpec('type=ioemu, mac=00:16:3e:00:00:01, bridge=xenbr0')).toMatchObject({
      type: 'ioemu',
    });
    expect(parseVifSpec('bridge=br0.10,ip=10.0.0.2 10.0.0.3,rate=10Mb/s,vifname=web0')).toEqual({
      bridge: 'br0',
      vlan: 10,
      ip: ['10.0.0.2', '10.0.0.3'],
      rate: { bytesPerInterval: 62_500, intervalUs: 50_000 },
      vifname: 'web0',
    });
  });

  it('converts xl rates to credit per interval', () => {
    expect(parseVifRate('1MB/s@20ms')).toEqual({ bytesPerInterval: 20_000, intervalUs: 20_000 });
    expect(parseVifRate('8Kb/s@1s')).toEqual({ bytesPerInterval: 1000, intervalUs: 1_000_000 });
    expect(err(() => parseVifRate('100B/s@500us'))).toMatch(/rate '100B\/s@500us' is out of range/);
  });

  it('rejects malformed values, naming them', () => {
    expect(err(() => parseVifSpec('mac=00:16:3e:42:83'))).toMatch(/invalid mac '00:16:3e:42:83'/);
    expect(err(() => parseVifSpec('mac=01:00:5e:00:00:01'))).toMatch(/multicast/);
    expect(err(() => parseVifSpec('ip=10.0.0.256'))).toMatch(/invalid ip '10.0.0.256'/);
    expect(err(() => parseVifSpec('vlan=4095'))).toMatch(/vlan must be an integer from 1 to 4094/);
    expect(err(() => parseVifSpec('rate=fast'))).toMatch(/invalid rate 'fast'/);
    expect(err(() => parseVifSpec('bridge'))).toMatch(/expected key=value/);
    expect(err(() => parseVifSpec('colour=red'))).toMatch(/unknown parameter 'colour'/);
    expect(err(() => parseVifSpec('bridge=a,bridge=b'))).toMatch(/bridge given twice/);
  });
});
