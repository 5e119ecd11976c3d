/**
 * Behaviour only guests (unprivileged ring connections) can observe, which the socket-only
 * reference daemon cannot show: permission checks, ownership, relative paths, watch
 * filtering and quotas. Expectations follow tools/xenstored/core.c, watch.c and domain.c.
 */
import { describe, expect, it } from 'vitest';
import { SyncConn, store } from './helpers/sync-conn.ts';

function setup(quotas = {}) {
  const xs = store({ quotas });
  const dom0 = new SyncConn(xs, 0);
  dom0.call('INTRODUCE', '5\x0099\x001\0');
  dom0.call('WRITE', '/local/domain/5\0');
  dom0.call('SET_PERMS', '/local/domain/5\0n5\0r0\0');
  const guest = new SyncConn(xs, 5);
  return { xs, dom0, guest };
}

describe('a guest connection', () => {
  it('resolves relative paths against its home /local/domain/<domid>', () => {
    const { dom0, guest } = setup();
    expect(guest.call('WRITE', 'device/vbd\x00ok')).toBe('OK\0');
    expect(dom0.call('READ', '/local/domain/5/device/vbd\0')).toBe('ok');
    expect(guest.call('GET_DOMAIN_PATH', '5\0')).toBe('/local/domain/5\0');
  });

  it('owns what it creates, inheriting the rest of the parent permissions', () => {
    const { dom0, guest } = setup();
    dom0.call('SET_PERMS', '/local/domain/5\0n0\0b5\0');
    guest.call('WRITE', 'data/x\0v');
    expect(dom0.call('GET_PERMS', '/local/domain/5/data/x\0')).toBe('n5\0b5\0');
  });

  it('cannot read dom0-only nodes, and learns EACCES instead of ENOENT below them', () => {
    const { dom0, guest } = setup();
    dom0.call('WRITE', '/secret/key\0v');
    expect(guest.call('READ', '/secret/key\0')).toBe('ERR:EACCES');
    expect(guest.call('READ', '/secret/none\0')).toBe('ERR:EACCES');
    dom0.call('SET_PERMS', '/secret\0n0\0r5\0');
    expect(guest.call('READ', '/secret/none\0')).toBe('ERR:ENOENT');
    expect(guest.call('READ', '/secret/key\0')).toBe('ERR:EACCES');
    dom0.call('SET_PERMS', '/secret/key\0r0\0');
    expect(guest.call('READ', '/secret/key\0')).toBe('v');
    expect(guest.call('WRITE', '/secret/key\0w')).toBe('ERR:EACCES');
  });

  it('may write where an entry grants it write access, but not create below read-only nodes', () => {
    const { dom0, guest } = setup();
    dom0.call('WRITE', '/shared\0');
    dom0.call('SET_PERMS', '/shared\0n0\0w5\0');
    expect(guest.call('WRITE', '/shared/x\0v')).toBe('OK\0');
    dom0.call('SET_PERMS', '/shared\0n0\0r5\0');
    expect(guest.call('WRITE', '/shared/y\0v')).toBe('ERR:EACCES');
    expect(guest.call('MKDIR', '/shared/y\0')).toBe('ERR:EACCES');
    expect(guest.call('RM', '/shared/x\0')).toBe('OK\0');
  });

  it('may change permissions of its own nodes but not give them away (EPERM)', () => {
    const { dom0, guest } = setup();
    guest.call('WRITE', 'mine\0v');
    expect(guest.call('SET_PERMS', 'mine\0n5\0r0\0r7\0')).toBe('OK\0');
    expect(guest.call('SET_PERMS', 'mine\0n7\0')).toBe('ERR:EPERM');
    expect(dom0.call('SET_PERMS', '/local/domain/5/mine\0n7\0')).toBe('OK\0');
    expect(guest.call('SET_PERMS', 'mine\0n5\0')).toBe('ERR:EACCES');
  });

  it('may not send privileged requests', () => {
    const { guest } = setup();
    for (const t of [
      'INTRODUCE',
      'RELEASE',
      'IS_DOMAIN_INTRODUCED',
      'RESUME',
      'SET_TARGET',
      'CONTROL',
    ] as const) {
      expect(guest.call(t, '5\0')).toBe('ERR:EACCES');
    }
  });

  it('acts with its target domain’s rights after SET_TARGET (device models)', () => {
    const { dom0 } = setup();
    dom0.call('INTRODUCE', '6\x0098\x002\0');
    const dm = new SyncConn(dom0.xs, 6);
    dom0.call('WRITE', '/local/domain/5/secret\0s');
    dom0.call('SET_PERMS', '/local/domain/5/secret\0n5\0');
    expect(dm.call('READ', '/local/domain/5/secret\0')).toBe('ERR:EACCES');
    expect(dom0.call('SET_TARGET', '6\x005\0')).toBe('OK\0');
    expect(dm.call('READ', '/local/domain/5/secret\0')).toBe('s');
  });

  it('only sees watch events for nodes it may read (or whose parent it may read)', () => {
    const { dom0, guest } = setup();
    dom0.call('WRITE', '/w\0');
    dom0.call('SET_PERMS', '/w\0n0\0r5\0');
    expect(guest.req('WATCH', '/w\0tok\0').map((m) => m.type)).toEqual(['WATCH', 'WATCH_EVENT']);
    dom0.call('WRITE', '/w/visible\0v');
    expect(guest.events()).toEqual(['/w/visible\0tok\0']);
    dom0.call('WRITE', '/w/hidden/deep\0v');
    dom0.call('SET_PERMS', '/w/hidden\0n0\0');
    dom0.call('SET_PERMS', '/w/hidden/deep\0n0\0');
    guest.take();
    dom0.call('WRITE', '/w/hidden/deep\0v2');
    expect(guest.events()).toEqual([]);
    // The parent /w/hidden is unreadable too, but an event for /w/hidden itself passes via /w.
    dom0.call('WRITE', '/w/hidden\0x');
    expect(guest.events()).toEqual(['/w/hidden\0tok\0']);
  });

  it('gets relative watch events for relative watches', () => {
    const { dom0, guest } = setup();
    guest.req('WATCH', 'control\0ctl\0');
    dom0.call('WRITE', '/local/domain/5/control/shutdown\0poweroff');
    expect(guest.events()).toEqual(['control/shutdown\0ctl\0']);
  });

  it('sees @introduceDomain only once dom0 grants read access to it', () => {
    const { dom0, guest } = setup();
    guest.req('WATCH', '@introduceDomain\0i\0');
    dom0.call('INTRODUCE', '8\x001\x001\0');
    expect(guest.events()).toEqual([]);
    expect(dom0.call('SET_PERMS', '@introduceDomain\0n0\0r5\0')).toBe('OK\0');
    dom0.call('INTRODUCE', '9\x001\x001\0');
    expect(guest.events()).toEqual(['@introduceDomain\0i\0']);
    expect(guest.call('SET_PERMS', '@introduceDomain\0n5\0')).toBe('ERR:EACCES');
  });

  it('is disconnected when dom0 releases its domain, firing @releaseDomain', () => {
    const { dom0, guest } = setup();
    dom0.req('WATCH', '@releaseDomain\0r\0');
    expect(dom0.req('RELEASE', '5\0')).toEqual([
      { type: 'WATCH_EVENT', tx: 0, text: '@releaseDomain\0r\0' },
      { type: 'RELEASE', tx: 0, text: 'OK\0' },
    ]);
    expect(guest.conn.closed).toBe(true);
    expect(guest.call('READ', 'x\0')).toBe('<none>');
  });
});

describe('guest quotas', () => {
  it('limits the nodes a domain owns (ENOSPC), not dom0', () => {
    const { dom0, guest } = setup({ nodes: 4 });
    // The guest owns /local/domain/5 already.
    expect(guest.call('WRITE', 'a\0')).toBe('OK\0');
    expect(guest.call('WRITE', 'b/c/d\0')).toBe('ERR:ENOSPC');
    expect(guest.call('WRITE', 'b/c\0')).toBe('OK\0');
    expect(guest.call('WRITE', 'd\0')).toBe('ERR:ENOSPC');
    expect(guest.call('WRITE', 'a\0new value')).toBe('OK\0');
    expect(guest.call('RM', 'b\0')).toBe('OK\0');
    expect(guest.call('WRITE', 'd\0')).toBe('OK\0');
    for (let i = 0; i < 10; i++) expect(dom0.call('WRITE', `/dom0/n${i}\0`)).toBe('OK\0');
  });

  it('limits node size (ENOSPC) and permissions per node (ENOSPC)', () => {
    const { guest } = setup({ nodeSize: 64 });
    // Record size as xenstored counts it: 24-byte header + 8 per permission + value (+ children).
    expect(guest.call('WRITE', `small\0${'x'.repeat(23)}`)).toBe('OK\0');
    expect(guest.call('WRITE', `small\0${'x'.repeat(24)}`)).toBe('ERR:ENOSPC');
    expect(guest.call('WRITE', `small\0${'x'.repeat(20)}`)).toBe('OK\0');
    expect(guest.call('WRITE', `big\0${'x'.repeat(64)}`)).toBe('ERR:ENOSPC');
    expect(guest.call('SET_PERMS', 'small\0n5\0r1\0r2\0r3\0r4\0r6\0')).toBe('ERR:ENOSPC');
    expect(guest.call('SET_PERMS', 'small\0n5\0r1\0r2\0r3\0r4\0')).toBe('OK\0');
  });

  it('limits watches (E2BIG once over the quota) and transactions (ENOSPC)', () => {
    const { guest } = setup({ watches: 2, transactions: 2 });
    expect(guest.req('WATCH', 'a\0t1\0')[0]?.type).toBe('WATCH');
    expect(guest.req('WATCH', 'a\0t2\0')[0]?.type).toBe('WATCH');
    expect(guest.req('WATCH', 'a\0t3\0')[0]?.type).toBe('WATCH');
    expect(guest.call('WATCH', 'a\0t4\0')).toBe('ERR:E2BIG');
    expect(guest.call('TRANSACTION_START', '\0')).toBe('1\0');
    expect(guest.call('TRANSACTION_START', '\0')).toBe('2\0');
    expect(guest.call('TRANSACTION_START', '\0')).toBe('ERR:ENOSPC');
  });

  it('limits the nodes one transaction touches (ENOSPC)', () => {
    const { guest } = setup({ transactionNodes: 3 });
    guest.call('TRANSACTION_START', '\0');
    expect(guest.call('WRITE', 'a\0', 1)).toBe('OK\0');
    expect(guest.call('WRITE', 'b/c/d\0', 1)).toBe('ERR:ENOSPC');
  });

  it('reports the limits with CONTROL quota in the C daemon’s format', () => {
    const { dom0 } = setup();
    expect(dom0.call('CONTROL', 'quota\0').replace(/\0$/, '')).toMatchInlineSnapshot(`
      "Quota settings:
      nodes            :     1000 Nodes per domain
      watches          :      128 Watches per domain
      transactions     :       10 Transactions per domain
      outstanding      :       20 Outstanding requests per domain
      transaction-nodes:     1024 Max. number of accessed nodes per transaction
      memory           :  2621440 Total Xenstore memory per domain (error level)
      node-size        :     2048 Max. size of a node
      path-max         :     2048 Max. length of a node path
      permissions      :        5 Max. number of permissions per node
      "
    `);
    expect(dom0.call('CONTROL', 'quota\0set\0nodes\x0010\0')).toBe('OK\0');
    expect(dom0.xs.quotas.nodes).toBe(10);
    expect(dom0.call('CONTROL', 'quota\x005\0')).toContain(
      'Domain 5:\nnodes           :        1\n',
    );
  });
});
