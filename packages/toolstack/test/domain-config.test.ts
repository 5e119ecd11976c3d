import { describe, expect, it } from 'vitest';
import { parseCpuList, parseDomainConfig, ToolstackError } from '../src/index.ts';

function err(text: string, source = 'dom.cfg'): string {
  try {
    parseDomainConfig(text, source);
  } catch (e) {
    expect(e).toBeInstanceOf(ToolstackError);
    expect((e as ToolstackError).code).toBe('CONFIG');
    return (e as Error).message.replace(/^toolstack: /, '');
  }
  throw new Error('expected an error');
}

describe('domain configuration', () => {
  it("accepts the book's PV xm configuration (Ch. 6) with xl's defaults", () => {
    const book = `
name = "FC6TEST1"
memory = "500"
kernel = "/boot/vmlinuz-2.6-xen"
#initrd= "/boot/initrd-2.6-xen.img"
root = "/dev/sda1 rw"
disk = [ 'phy:/dev/VolGroup00/root-TEST-FC6,xvda,w', ]
vif = [ 'mac=00:16:3e:42:83:34, bridge=xenbr0', ]
vnc=1
vncunused=1
uuid = "f6ebc9f0-8ad4-2868-7297-9822ab6496cd"
vcpus=1
on_reboot = 'restart'
on_crash = 'restart'
`;
    const c = parseDomainConfig(book, '/etc/xen/FC6TEST1');
    expect(c).toMatchObject({
      name: 'FC6TEST1',
      type: 'pv',
      memory: 500,
      maxmem: 500,
      vcpus: 1,
      maxvcpus: 1,
      cmdline: 'root=/dev/sda1 rw',
      uuid: 'f6ebc9f0-8ad4-2868-7297-9822ab6496cd',
      cpuWeight: 256,
      cap: 0,
      onPoweroff: 'destroy',
      onReboot: 'restart',
      onCrash: 'restart',
      compat: { vnc: true, vncunused: true },
    });
    expect(c.disks.map((d) => [d.target, d.vdev, d.access])).toEqual([
      ['/dev/VolGroup00/root-TEST-FC6', 'xvda', 'w'],
    ]);
    expect(c.vifs).toEqual([{ mac: '00:16:3e:42:83:34', bridge: 'xenbr0' }]);
  });

  it("accepts the book's HVM configuration keys (builder = hvm)", () => {
    const c = parseDomainConfig(
      `name = "winxp"\nbuilder = "hvm"\nmemory = 512\ndevice_model = "/usr/lib/xen/bin/qemu-dm"\napic=1\nacpi=1\npae=1\nserial = "pty"\nsdl=1\n`,
    );
    expect(c.type).toBe('hvm');
    expect(c.compat).toEqual({
      device_model: '/usr/lib/xen/bin/qemu-dm',
      apic: true,
      acpi: true,
      pae: true,
      serial: 'pty',
      sdl: true,
    });
  });

  it('builds the command line as xl does: cmdline wins, else root= then extra', () => {
    const base = 'name="a"\nkernel="/k"\n';
    expect(parseDomainConfig(`${base}root="/dev/xvda1 ro"\nextra="console=hvc0"`).cmdline).toBe(
      'root=/dev/xvda1 ro console=hvc0',
    );
    expect(parseDomainConfig(`${base}cmdline="quiet"\nextra="x"`).cmdline).toBe('quiet');
    expect(parseDomainConfig(base).cmdline).toBe('');
  });

  it('reads scheduling and pinning keys', () => {
    const c = parseDomainConfig(
      'name="a"\nkernel="/k"\nvcpus=2\nmaxvcpus=4\ncpus="0-3,^1"\ncpu_weight=512\ncap=50\nmaxmem=1024\nmemory=256',
    );
    expect(c).toMatchObject({
      vcpus: 2,
      maxvcpus: 4,
      cpus: [0, 2, 3],
      cpuWeight: 512,
      cap: 50,
      memory: 256,
      maxmem: 1024,
    });
    expect(parseDomainConfig('name="a"\nkernel="/k"\ncpus=[0, "2-3"]').cpus).toEqual([0, 2, 3]);
    expect(parseDomainConfig('name="a"\nkernel="/k"\ncpus="all"').cpus).toBeUndefined();
    expect(parseCpuList('4,1-2,^2')).toEqual([1, 4]);
  });

  it('names file, line and key for unknown keys and malformed values', () => {
    expect(err('name = "a"\nkernel="/k"\nmemroy = 256\n')).toBe('dom.cfg:3: memroy: unknown key');
    expect(err('name = "a"\nkernel="/k"\nmemory = "lots"\n')).toBe(
      'dom.cfg:3: memory: expected a number, got "lots"',
    );
    expect(err('name = "a"\nkernel="/k"\nvcpus = 0\n')).toBe(
      'dom.cfg:3: vcpus: 0 is out of range (1–128)',
    );
    expect(err('name = "a"\nkernel="/k"\nmemory=512\nmaxmem=256\n')).toBe(
      'dom.cfg:4: maxmem: 256 MiB is less than memory (512 MiB)',
    );
    expect(err('name = "a"\nkernel="/k"\non_crash = "explode"\n')).toMatch(
      /^dom\.cfg:3: on_crash: unknown action "explode"/,
    );
    expect(err('name = "a"\nkernel="/k"\ndisk = [ "/a.img,xvda,w" ]\n')).toBe(
      "dom.cfg:3: disk: disk spec '/a.img,xvda,w': unknown value for format (near 'xvda')",
    );
    expect(err('name = "a"\nkernel="/k"\nvif = [ "mac=zz" ]\n')).toBe(
      "dom.cfg:3: vif: vif spec 'mac=zz': invalid mac 'zz'",
    );
    expect(err('name = "a"\nkernel="/k"\ncpus = "0-x"\n')).toBe(
      'dom.cfg:3: cpus: invalid CPU list item "0-x"',
    );
    expect(err('name = "a"\nkernel="/k"\nuuid = "nope"\n')).toBe(
      'dom.cfg:3: uuid: invalid UUID "nope"',
    );
    expect(err('name = "a"\nkernel="/k"\ndisk=["phy:/a,xvda,w", "phy:/b,xvda,w"]\n')).toBe(
      'dom.cfg:3: disk: vdev xvda is used twice',
    );
    expect(err('name = "a"\nkernel = ["/k"]\n')).toBe(
      'dom.cfg:2: kernel: expected a string, got a list',
    );
    expect(err('name = "a"\ntype = "pv"\nbuilder = "hvm"\nkernel="/k"\n')).toBe(
      'dom.cfg:3: builder: conflicts with type = "pv"',
    );
    expect(err('memory = 256\nkernel="/k"\n')).toBe('dom.cfg: name: required key is missing');
    expect(err('name = "12"\nkernel="/k"\n')).toMatch(
      /^dom\.cfg:1: name: invalid domain name "12"/,
    );
    expect(err('name = "a"\n')).toBe('dom.cfg: kernel: a PV domain needs kernel (or bootloader)');
  });
});
