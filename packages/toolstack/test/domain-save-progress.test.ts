import { describe, expect, it } from 'vitest';
import type { CliIo } from '../src/cli/command.ts';
import { MIGRATE_DEFAULT_PORT, parseMigrateAddress } from '../src/migration/migration-peer.ts';
import { ProgressLine, progressText } from '../src/migration/progress-line.ts';

function io(): CliIo & { out: string } {
  const o = {
    out: '',
    stdout(t: string) {
      o.out += t;
    },
    stderr() {},
    env: {},
    cwd: '/',
  };
  return o;
}

const event = (data: unknown) => ({
  v: 1,
  event: 'progress' as const,
  domid: -1,
  data: JSON.stringify(data),
});

describe('save, restore and migrate progress and addresses', () => {
  it('parses migration addresses as HOST:PORT with the book default port', () => {
    expect(parseMigrateAddress('10.0.0.2:9000')).toEqual({ host: '10.0.0.2', port: 9000 });
    expect(parseMigrateAddress('peer')).toEqual({ host: 'peer', port: MIGRATE_DEFAULT_PORT });
    expect(parseMigrateAddress(':0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseMigrateAddress('[::1]:8003')).toEqual({ host: '::1', port: 8003 });
    expect(() => parseMigrateAddress('a:b:c')).toThrow(/is not a HOST:PORT address/);
    expect(() => parseMigrateAddress('h:70000')).toThrow(/is not a HOST:PORT address/);
  });

  it('writes one rewritten line on a terminal and clears it, and nothing otherwise', () => {
    const tty = io();
    const line = new ProgressLine(tty, true);
    line.update(event({ phase: 'save', done: 512, total: 1024 }));
    line.update(event({ phase: 'save', done: 1024, total: 1024 }));
    line.update({ v: 1, event: 'console', domid: 1, data: 'aGk=' });
    line.done();
    expect(tty.out).toBe(
      `\rSaving: 512/1024 pages (50%)\rSaving: 1024/1024 pages (100%)\r${' '.repeat(30)}\r`,
    );
    const pipe = io();
    const quiet = new ProgressLine(pipe, false);
    quiet.update(event({ phase: 'migrate', round: 2, pages: 7 }));
    quiet.done();
    expect(pipe.out).toBe('');
    expect(progressText(event({ phase: 'migrate', round: 2, pages: 7 }))).toBe(
      'Migrating: round 2, 7 pages sent',
    );
    expect(progressText(event({ phase: 'restore', done: 3 << 20 }))).toBe(
      'Restoring: 3.0 MiB read',
    );
    expect(progressText({ v: 1, event: 'progress', domid: -1, data: '{not json' })).toBeUndefined();
  });
});
