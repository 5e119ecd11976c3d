/**
 * The daemon's save, restore and migration methods (`save`, `restore`, `migrate`,
 * `migrate.listen`), and the daemon's migration listener (`--migrate-listen`). `daemon.ts`
 * routes every method in {@link MIGRATION_METHODS} to {@link MigrationService.call}; DESIGN.md
 * documents their parameters and results.
 * @module
 */
import { closeSync, createReadStream, openSync, unlinkSync, writeSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { DomainConfig } from '../config/domain-config.ts';
import { loadDomainConfig } from '../daemon/config-load.ts';
import { ToolstackError } from '../errors.ts';
import { restoreDomainImage } from '../host/domain-restore.ts';
import { saveDomainImage } from '../host/domain-save.ts';
import type { Host, HostDomain } from '../host/host.ts';
import { migrateDomain } from './migrate-domain.ts';
import {
  connectMigration,
  listenForMigrations,
  type MigrationListener,
  parseMigrateAddress,
} from './migration-peer.ts';
import { chunkSource } from './stream.ts';

/** The methods {@link MigrationService.call} serves. */
export const MIGRATION_METHODS: ReadonlySet<string> = new Set([
  'save',
  'restore',
  'migrate',
  'migrate.listen',
]);

/** A progress report sent to the client that asked (`{phase, done, total}` or a round). */
export type ProgressSink = (data: Readonly<Record<string, unknown>>) => void;

function param(params: Readonly<Record<string, unknown>>, key: string): string {
  const v = params[key];
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  if (typeof v !== 'string' || v === '')
    throw new ToolstackError('USAGE', `parameter "${key}" must be a non-empty string`);
  return v;
}

function absolute(params: Readonly<Record<string, unknown>>, key: string): string {
  const path = param(params, key);
  const cwd = typeof params.cwd === 'string' ? params.cwd : '/';
  return isAbsolute(path) ? path : resolve(cwd, path);
}

/** Save, restore and migration for one daemon's host. */
export class MigrationService {
  private readonly host: Host;
  private readonly log: (line: string) => void;
  private readonly received: (dom: HostDomain) => void;
  private readonly listeners: MigrationListener[] = [];

  /**
   * A service for `host`; `received` is told about every domain restored or migrated in (the
   * daemon wakes its run loop).
   */
  constructor(host: Host, log: (line: string) => void, received: (dom: HostDomain) => void) {
    this.host = host;
    this.log = log;
    this.received = received;
  }

  /** Starts listening for incoming migrations on `address` (`HOST:PORT`). */
  async listen(address: string, paused = false): Promise<{ host: string; port: number }> {
    const l = await listenForMigrations(this.host, parseMigrateAddress(address), {
      log: this.log,
      onDomain: this.received,
      paused,
    });
    this.listeners.push(l);
    this.log(`listening for migrations on ${l.address.host}:${l.address.port}`);
    return { ...l.address };
  }

  /** Stops every listener. */
  async close(): Promise<void> {
    for (const l of this.listeners.splice(0)) await l.close();
  }

  /** Runs method `method` (one of {@link MIGRATION_METHODS}). */
  async call(
    method: string,
    params: Readonly<Record<string, unknown>>,
    progress: ProgressSink,
  ): Promise<unknown> {
    switch (method) {
      case 'save':
        return this.save(params, progress);
      case 'restore':
        return this.restore(params, progress);
      case 'migrate':
        return this.migrate(params, progress);
      case 'migrate.listen':
        return this.listen(param(params, 'address'), params.paused === true);
      default:
        throw new ToolstackError('USAGE', `unknown method "${method}"`);
    }
  }

  private async save(
    params: Readonly<Record<string, unknown>>,
    progress: ProgressSink,
  ): Promise<unknown> {
    const file = absolute(params, 'file');
    const d = this.host.lookup(param(params, 'domain'));
    const config = this.configOf(params);
    let fd: number;
    try {
      fd = openSync(file, 'w', 0o600);
    } catch (err) {
      throw new ToolstackError(
        'IO',
        `cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    let ok = false;
    try {
      const result = await saveDomainImage(
        this.host,
        d.domid,
        (chunk) => {
          try {
            writeSync(fd, chunk);
          } catch (err) {
            throw new ToolstackError(
              'IO',
              `writing ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
            );
          }
        },
        {
          keep: params.keep === true || params.pause === true,
          ...(config === undefined ? {} : { config }),
          progress: (done, total) => progress({ phase: 'save', done, total }),
        },
      );
      ok = true;
      if (params.pause === true) this.host.pause(result.domid);
      this.log(
        `dom${result.domid} (${result.name}) saved to ${file}: ${result.pages} pages, ${result.bytes} bytes in ${result.ms.toFixed(0)} ms${params.keep === true ? '' : '; destroyed'}`,
      );
      return { ...result, file };
    } finally {
      closeSync(fd);
      if (!ok) {
        try {
          unlinkSync(file); // a partial image must not look like a save
        } catch {
          // already gone
        }
      }
    }
  }

  /** The xl configuration in `params.text` (from `params.source`), if one is given. */
  private configOf(params: Readonly<Record<string, unknown>>): DomainConfig | undefined {
    if (typeof params.text !== 'string') return undefined;
    return loadDomainConfig({
      text: params.text,
      source: param(params, 'source'),
      overrides: Array.isArray(params.overrides)
        ? params.overrides.filter((o): o is string => typeof o === 'string')
        : [],
      cwd: typeof params.cwd === 'string' ? params.cwd : '/',
    });
  }

  private async restore(
    params: Readonly<Record<string, unknown>>,
    progress: ProgressSink,
  ): Promise<unknown> {
    const file = absolute(params, 'file');
    const config = this.configOf(params);
    const stream = createReadStream(file, { highWaterMark: 1 << 20 });
    const opened = new Promise<void>((ok, fail) => {
      stream.once('open', () => ok());
      stream.once('error', (err: NodeJS.ErrnoException) =>
        fail(new ToolstackError('NOT_FOUND', `cannot read ${file}: ${err.code ?? err.message}`)),
      );
    });
    await opened;
    const t0 = performance.now();
    try {
      const dom = await restoreDomainImage(this.host, chunkSource(stream), {
        paused: params.paused === true,
        ...(config === undefined ? {} : { config }),
        progress: (_records, bytes) => progress({ phase: 'restore', done: bytes }),
      });
      this.received(dom);
      const ms = performance.now() - t0;
      this.log(`dom${dom.domid} (${dom.name}) restored from ${file} in ${ms.toFixed(0)} ms`);
      return { domid: dom.domid, name: dom.name, ms };
    } finally {
      stream.destroy();
    }
  }

  private async migrate(
    params: Readonly<Record<string, unknown>>,
    progress: ProgressSink,
  ): Promise<unknown> {
    const d = this.host.lookup(param(params, 'domain'));
    const { host, port } = parseMigrateAddress(param(params, 'address'));
    const conn = await connectMigration(host, port);
    try {
      const report = await migrateDomain(this.host, d.domid, conn, {
        live: params.live === true,
        progress: (round, pages) => progress({ phase: 'migrate', round, pages }),
      });
      this.log(
        `dom${report.domid} (${report.name}) migrated to ${host}:${port} as dom${report.targetDomid}: ${report.rounds} rounds, downtime ${report.downtimeMs.toFixed(1)} ms`,
      );
      return report;
    } finally {
      conn.close();
    }
  }
}
