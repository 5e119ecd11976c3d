/**
 * The host daemon: one {@link Host} run forever, a control socket speaking the JSON-lines
 * protocol of `protocol.ts`, and the host's xenstore served on a xenstored socket so Debian's
 * `xenstore-*` tools see the domains. Clients (the xl verbs) may come and go or crash; the
 * domains belong to the daemon.
 * @module
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { XenstoreServer } from '@typevisor/xenstore/node';
import { ToolstackError } from '../errors.ts';
import { Host, type HostDomain, type HostTimeMode } from '../host/host.ts';
import { liveDomainConfig } from '../host/host-lifecycle-config.ts';
import { MIGRATION_METHODS, MigrationService } from '../migration/migration-rpc.ts';
import { TYPEVISOR_VERSION } from '../version.ts';
import { loadDomainConfig } from './config-load.ts';
import {
  DAEMON_PROTOCOL_VERSION,
  errorToReply,
  LineReader,
  type RpcEvent,
  type RpcReply,
} from './protocol.ts';
import { RESOURCE_METHODS, resourceRpc } from './resource-rpc.ts';
import { VCPU_METHODS, vcpuRpc } from './vcpu-rpc.ts';

/** Options of {@link TypevisorDaemon.start}. */
export interface DaemonOptions {
  /** The control socket's path. */
  readonly socketPath: string;
  /** Where to serve the host's xenstore; none when undefined. */
  readonly xenstoredSocketPath?: string;
  /** Machine memory in MiB (default 512). */
  readonly memoryMiB?: number;
  /** `real` (default) or `virtual` time. */
  readonly time?: HostTimeMode;
  /** The vCPU scheduler: `credit` (default) or `sedf` (Xen's `sched=`). */
  readonly scheduler?: 'credit' | 'sedf';
  /** Physical CPUs of the host (default 1). */
  readonly pcpus?: number;
  /** Receives the daemon's log lines (already timestamped). */
  readonly log?: (line: string) => void;
  /** Listen for incoming migrations on this `HOST:PORT` (`--migrate-listen`). */
  readonly migrateListen?: string;
}

/** Console bytes replayed to a client that attaches (xenconsoled keeps a buffer too). */
const CONSOLE_REPLAY = 64 * 1024;
/** Lines kept for `dmesg`. */
const DMESG_KEEP = 2000;
/** Bytes of replies and events a client may leave unread before it is disconnected. */
const MAX_CLIENT_BACKLOG = 16 << 20;
/** Bytes of console input queued per domain while its ring is full. */
const MAX_INPUT_BACKLOG = 1 << 20;
/** How often the daemon sweeps consoles, waiters and input queues (ms). */
const SWEEP_MS = 50;

/** What a socket at a path turned out to be. */
export type SocketProbe = 'absent' | 'stale' | 'live';

/**
 * Finds out whether a daemon answers on `path`: `live` when something accepts connections,
 * `stale` when the file is left over from a dead process, `absent` when there is no file.
 */
export function probeSocket(path: string): Promise<SocketProbe> {
  if (!existsSync(path)) return Promise.resolve('absent');
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve('live');
    });
    s.once('error', () => resolve('stale'));
  });
}

/** A client connection and the consoles it is attached to. */
class Client {
  readonly socket: Socket;
  readonly consoles: Map<number, { dom: HostDomain; listener: (b: Uint8Array) => void }> =
    new Map();
  constructor(socket: Socket) {
    this.socket = socket;
  }
  send(msg: RpcReply | RpcEvent): void {
    if (this.socket.destroyed) return;
    this.socket.write(`${JSON.stringify(msg)}\n`);
    // A client that stops reading (a stuck console) must not grow the daemon's memory.
    if (this.socket.writableLength > MAX_CLIENT_BACKLOG) this.socket.destroy();
  }
}

/** A `shutdown -w` waiting for its domain. */
interface Waiter {
  readonly dom: HostDomain;
  readonly resolve: (outcome: { outcome: 'destroyed' | 'shutdown'; reason: number }) => void;
}

function str(params: Readonly<Record<string, unknown>>, key: string): string {
  const v = params[key];
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  if (typeof v !== 'string' || v === '')
    throw new ToolstackError('USAGE', `parameter "${key}" must be a non-empty string`);
  return v;
}

function xlStateLetters(d: HostDomain): string {
  const shut = d.shutdownReason >= 0;
  const crashed = d.shutdownReason === 3;
  // Blocked when every vCPU that is up is blocked in SCHEDOP_block.
  const blocked = d.vcpus.every((v) => v.blocked || !d.isUp(v.id));
  return [
    !shut && !d.paused && !blocked ? 'r' : '-',
    !shut && blocked ? 'b' : '-',
    !shut && d.paused ? 'p' : '-',
    shut && !crashed ? 's' : '-',
    crashed ? 'c' : '-',
    '-',
  ].join('');
}

/** One row of `list`: what xl's `libxl_dominfo` holds, plus the configuration. */
export interface DomainListEntry {
  /** Domain ID. */
  readonly domid: number;
  /** Name. */
  readonly name: string;
  /** UUID. */
  readonly uuid: string;
  /** Current memory in MiB. */
  readonly memoryMiB: number;
  /** Maximum memory in MiB. */
  readonly maxMemMiB: number;
  /** Online vCPUs. */
  readonly vcpus: number;
  /** xl's six state letters (`r b p s c d`, `-` when not set). */
  readonly state: string;
  /** CPU time in seconds (guests: executed instructions at the virtual TSC's 1 ns each). */
  readonly cpuTimeSec: number;
  /** Seconds since the domain was created (host system time). */
  readonly uptimeSec: number;
  /** The shutdown reason's name once it shut down. */
  readonly shutdownReason?: string;
  /** The configuration (guests only). */
  readonly config?: unknown;
}

/** The host daemon. Start it with {@link TypevisorDaemon.start}. */
export class TypevisorDaemon {
  /** The host the daemon owns. */
  readonly host: Host;
  /** The control socket's path. */
  readonly socketPath: string;
  /** The xenstored socket's path, when serving one. */
  readonly xenstoredSocketPath: string | undefined;
  /** `real` or `virtual`. */
  readonly time: HostTimeMode;
  /** Machine memory in MiB. */
  readonly memoryMiB: number;
  /** Resolves once the daemon has stopped. */
  readonly stopped: Promise<void>;
  private readonly logSink: (line: string) => void;
  private readonly server: Server;
  private xsServer: XenstoreServer | undefined;
  private readonly clients: Set<Client> = new Set();
  private readonly dmesgLines: string[] = [];
  private readonly xenConsoleSeen: Map<HostDomain, number> = new Map();
  private readonly inputQueues: Map<HostDomain, Uint8Array[]> = new Map();
  private readonly waiters: Set<Waiter> = new Set();
  private readonly startedAt: number = Date.now();
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private stopping = false;
  private loop: Promise<void> = Promise.resolve();
  private resolveStopped: () => void = () => undefined;
  private wakeRunner: () => void = () => undefined;
  private readonly migration: MigrationService;

  private constructor(options: DaemonOptions) {
    this.socketPath = options.socketPath;
    this.xenstoredSocketPath = options.xenstoredSocketPath;
    this.time = options.time ?? 'real';
    this.memoryMiB = options.memoryMiB ?? 512;
    const sink = options.log ?? (() => undefined);
    this.logSink = (line) => sink(`${new Date().toISOString()} ${line}`);
    this.host = new Host({
      memoryMiB: this.memoryMiB,
      time: this.time,
      log: (line) => this.log(line),
      ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }),
      ...(options.pcpus === undefined ? {} : { pcpus: options.pcpus }),
    });
    this.host.onShutdown = (d, action) => {
      this.collectXenConsole(d);
      this.log(`dom${d.domid} (${d.name}) shut down: ${d.shutdownName ?? '?'}, action ${action}`);
    };
    this.server = createServer((s) => this.accept(s));
    this.migration = new MigrationService(
      this.host,
      (line) => this.log(line),
      () => this.wakeRunner(),
    );
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
  }

  /**
   * Starts a daemon: refuses when another one answers on the socket, replaces a stale socket
   * left by a dead one, then listens and starts running the host.
   */
  static async start(options: DaemonOptions): Promise<TypevisorDaemon> {
    for (const path of [options.socketPath, options.xenstoredSocketPath]) {
      if (path === undefined) continue;
      const probe = await probeSocket(path);
      if (probe === 'live') {
        throw new ToolstackError(
          'STATE',
          `another daemon is already running on ${path}; stop it first (or use another --socket)`,
        );
      }
      if (probe === 'stale') unlinkSync(path);
    }
    const daemon = new TypevisorDaemon(options);
    await new Promise<void>((resolve, reject) => {
      daemon.server.once('error', (err: NodeJS.ErrnoException) => {
        // Two daemons started at once: both saw no socket, the other one bound first.
        reject(
          err.code === 'EADDRINUSE'
            ? new ToolstackError(
                'STATE',
                `another daemon is already running on ${options.socketPath}; stop it first (or use another --socket)`,
              )
            : new ToolstackError('IO', `cannot listen on ${options.socketPath}: ${err.message}`),
        );
      });
      daemon.server.listen(options.socketPath, () => {
        daemon.server.removeAllListeners('error');
        resolve();
      });
    });
    chmodSync(options.socketPath, 0o600);
    daemon.server.on('error', (err) => daemon.log(`control socket: ${err.message}`));
    if (options.xenstoredSocketPath !== undefined) {
      daemon.xsServer = new XenstoreServer({
        socketPath: options.xenstoredSocketPath,
        xenstore: daemon.host.xenstore,
        log: (line) => daemon.log(line),
      });
      try {
        await daemon.xsServer.listen();
      } catch (err) {
        await new Promise<void>((resolve) => daemon.server.close(() => resolve()));
        throw new ToolstackError(
          'IO',
          `cannot serve xenstore on ${options.xenstoredSocketPath}: ${(err as Error).message}`,
        );
      }
    }
    if (options.migrateListen !== undefined) {
      try {
        await daemon.migration.listen(options.migrateListen);
      } catch (err) {
        await daemon.stop('cannot listen for migrations');
        throw err;
      }
    }
    daemon.sweepTimer = setInterval(() => daemon.sweep(), SWEEP_MS);
    daemon.loop = daemon.runHost();
    daemon.log(
      `typevisor ${TYPEVISOR_VERSION} daemon (pid ${process.pid}) on ${options.socketPath}, ${daemon.memoryMiB} MiB, ${daemon.time} time${options.xenstoredSocketPath ? `, xenstored on ${options.xenstoredSocketPath}` : ''}`,
    );
    return daemon;
  }

  /** Logs a line to the daemon's log and to `dmesg` as Xen's console does (`(XEN) …`). */
  log(line: string): void {
    this.logSink(line);
    this.pushDmesg(`(XEN) ${line}`);
  }

  private pushDmesg(line: string): void {
    this.dmesgLines.push(line);
    if (this.dmesgLines.length > DMESG_KEEP)
      this.dmesgLines.splice(0, this.dmesgLines.length - DMESG_KEEP);
  }

  /** Runs the host until {@link TypevisorDaemon.stop}; a failure inside is logged, not fatal. */
  private async runHost(): Promise<void> {
    while (!this.stopping) {
      try {
        if (this.host.domains.size === 0) {
          // Nothing to schedule: sleep until `create` wakes us (polling Host.run's idle loop
          // every millisecond cost an idle daemon about 3% of a CPU).
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 250);
            this.wakeRunner = () => {
              clearTimeout(t);
              resolve();
            };
          });
          this.wakeRunner = () => undefined;
          continue;
        }
        await this.host.run({
          stopWhenIdle: false,
          until: () => this.stopping || this.host.domains.size === 0,
        });
      } catch (err) {
        this.log(`host: ${(err as Error)?.stack ?? String(err)}`);
        await new Promise<void>((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  /**
   * Stops the daemon: stops the host, destroys every domain, closes the clients and removes
   * both sockets.
   */
  async stop(reason = 'stop requested'): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    this.log(`shutting down (${reason})`);
    this.host.stop();
    this.wakeRunner();
    await this.loop;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    for (const id of [...this.host.domains.keys()]) {
      await this.host.destroyDomain(id).catch((err: Error) => this.log(err.message));
    }
    this.sweep();
    for (const c of this.clients) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.migration.close();
    await this.xsServer?.close();
    for (const p of [this.socketPath, this.xenstoredSocketPath]) {
      if (p === undefined) continue;
      try {
        unlinkSync(p);
      } catch {
        // Already gone (node removes a listening unix socket when it closes).
      }
    }
    this.log('stopped');
    this.resolveStopped();
    return this.stopped;
  }

  private accept(socket: Socket): void {
    const client = new Client(socket);
    this.clients.add(client);
    const reader = new LineReader();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const ok = reader.push(chunk, (line) => void this.handleLine(client, line));
      if (!ok) {
        this.log('control socket: dropping a client that sent an oversized line');
        socket.destroy();
      }
    });
    const drop = (): void => {
      for (const c of client.consoles.values()) c.dom.consoleListeners.delete(c.listener);
      client.consoles.clear();
      this.clients.delete(client);
    };
    socket.on('close', drop);
    socket.on('error', drop);
  }

  private async handleLine(client: Client, line: string): Promise<void> {
    let id: number | null = null;
    try {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        throw new ToolstackError('USAGE', 'malformed request (not JSON)');
      }
      const m = (typeof msg === 'object' && msg !== null ? msg : {}) as Record<string, unknown>;
      id = typeof m.id === 'number' && Number.isSafeInteger(m.id) ? m.id : null;
      if (m.v !== DAEMON_PROTOCOL_VERSION) {
        throw new ToolstackError(
          'USAGE',
          `protocol version ${String(m.v)} is not supported (the daemon speaks ${DAEMON_PROTOCOL_VERSION})`,
        );
      }
      if (id === null || typeof m.method !== 'string')
        throw new ToolstackError('USAGE', 'a request needs an integer id and a method');
      const params = (
        typeof m.params === 'object' && m.params !== null ? m.params : {}
      ) as Readonly<Record<string, unknown>>;
      const result = await this.dispatch(client, m.method, params);
      client.send({ v: DAEMON_PROTOCOL_VERSION, id, ok: true, result });
    } catch (err) {
      if (!(err instanceof ToolstackError)) this.log(`request failed: ${(err as Error)?.stack}`);
      client.send({ v: DAEMON_PROTOCOL_VERSION, id, ok: false, error: errorToReply(err) });
    }
  }

  private lookup(params: Readonly<Record<string, unknown>>, method: string): HostDomain {
    const domain = str(params, 'domain');
    if (domain === '0' || domain === 'Domain-0') {
      throw new ToolstackError(
        'STATE',
        `Domain-0 is the daemon itself: ${method.replace(/\..*$/, '')} does not apply to it`,
      );
    }
    return this.host.lookup(domain);
  }

  private dispatch(
    client: Client,
    method: string,
    params: Readonly<Record<string, unknown>>,
  ): unknown {
    switch (method) {
      case 'hello':
        return this.hello();
      case 'list':
        return this.list(params.domain === undefined ? undefined : str(params, 'domain'));
      case 'create':
        return this.create(params);
      case 'destroy':
        return this.destroy(this.lookup(params, method));
      case 'shutdown':
        return this.shutdown(
          this.lookup(params, method),
          params.reboot === true,
          params.wait === true,
        );
      case 'pause': {
        const d = this.lookup(params, method);
        this.host.pause(d.domid);
        return { domid: d.domid };
      }
      case 'unpause': {
        const d = this.lookup(params, method);
        this.host.unpause(d.domid);
        return { domid: d.domid };
      }
      case 'rename':
        return this.rename(this.lookup(params, method), str(params, 'name'));
      case 'console.attach':
        return this.attach(client, this.lookup(params, method), params.replay !== false);
      case 'console.detach': {
        const d = this.lookup(params, method);
        const c = client.consoles.get(d.domid);
        if (c !== undefined) c.dom.consoleListeners.delete(c.listener);
        client.consoles.delete(d.domid);
        return { domid: d.domid };
      }
      case 'console.input':
        return this.input(this.lookup(params, method), str(params, 'data'));
      case 'console.read': {
        const d = this.lookup(params, method);
        return { domid: d.domid, data: Buffer.from(d.consoleText(), 'latin1').toString('base64') };
      }
      case 'dmesg':
        return this.dmesg(params.clear === true);
      case 'block-list':
        return this.blockList(this.lookup(params, method));
      default:
        if (RESOURCE_METHODS.has(method)) return resourceRpc(this.host, method, params);
        if (VCPU_METHODS.has(method)) return vcpuRpc(this.host, method, params);
        if (MIGRATION_METHODS.has(method)) {
          return this.migration.call(method, params, (data) =>
            client.send({
              v: DAEMON_PROTOCOL_VERSION,
              event: 'progress',
              domid: -1,
              data: JSON.stringify(data),
            }),
          );
        }
        throw new ToolstackError('USAGE', `unknown method "${method}"`);
    }
  }

  /** Facts about the daemon and its host (`hello`). */
  private hello(): Record<string, unknown> {
    const m = this.host.machine;
    return {
      protocol: DAEMON_PROTOCOL_VERSION,
      version: TYPEVISOR_VERSION,
      pid: process.pid,
      socket: this.socketPath,
      xenstoredSocket: this.xenstoredSocketPath ?? null,
      time: this.time,
      totalMemoryMiB: this.memoryMiB,
      freeMemoryMiB: Math.floor(m.frames.freeFrames / 256),
      pcpus: this.host.pcpus,
      domains: this.host.domains.size,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSec: (Date.now() - this.startedAt) / 1000,
      systemTimeNs: this.host.nowNs(),
    };
  }

  private dom0Entry(): DomainListEntry {
    const cpu = process.cpuUsage();
    return {
      domid: 0,
      name: 'Domain-0',
      uuid: '00000000-0000-0000-0000-000000000000',
      memoryMiB: Math.round(process.memoryUsage().rss / (1 << 20)),
      maxMemMiB: Math.round(process.memoryUsage().rss / (1 << 20)),
      vcpus: 1,
      state: 'r-----',
      cpuTimeSec: (cpu.user + cpu.system) / 1e6,
      uptimeSec: process.uptime(),
    };
  }

  private entry(d: HostDomain): DomainListEntry {
    return {
      domid: d.domid,
      name: d.name,
      uuid: d.uuid,
      memoryMiB: Math.floor(this.host.currentMemoryKiB(d.domid) / 1024),
      maxMemMiB: Math.floor(this.host.maxMemoryKiB(d.domid) / 1024) - 1,
      vcpus: d.onlineVcpus,
      state: xlStateLetters(d),
      cpuTimeSec: d.instructions / 1e9,
      uptimeSec: Math.max(0, (this.host.nowNs() - d.createdAtNs) / 1e9),
      ...(d.shutdownName === undefined ? {} : { shutdownReason: d.shutdownName }),
      config: d.config,
    };
  }

  private async list(domain: string | undefined): Promise<DomainListEntry[]> {
    // The configuration as it is now (mem-set, vcpu-set, hot-plugged devices), as libxl's
    // libxl_retrieve_domain_configuration gives `xl list -l`.
    const live = async (d: HostDomain): Promise<DomainListEntry> => ({
      ...this.entry(d),
      config: await liveDomainConfig(this.host, d),
    });
    if (domain !== undefined) {
      if (domain === '0' || domain === 'Domain-0') return [this.dom0Entry()];
      return [await live(this.host.lookup(domain))];
    }
    const rows = [this.dom0Entry()];
    for (const d of [...this.host.domains.values()].sort((a, b) => a.domid - b.domid))
      rows.push(await live(d));
    return rows;
  }

  private async create(params: Readonly<Record<string, unknown>>): Promise<unknown> {
    const overrides = params.overrides ?? [];
    if (!Array.isArray(overrides) || overrides.some((o) => typeof o !== 'string'))
      throw new ToolstackError('USAGE', 'parameter "overrides" must be a list of strings');
    const config = loadDomainConfig({
      text: typeof params.text === 'string' ? params.text : str(params, 'text'),
      source: str(params, 'source'),
      overrides: overrides as string[],
      cwd: str(params, 'cwd'),
    });
    if (config.name === 'Domain-0')
      throw new ToolstackError('CONFIG', 'the name "Domain-0" is taken by dom0');
    const dom = await this.host.createDomain(config, { paused: params.paused === true });
    this.wakeRunner();
    this.log(`dom${dom.domid} (${dom.name}) created from ${config.source}`);
    return { domid: dom.domid, name: dom.name, uuid: dom.uuid };
  }

  private async destroy(d: HostDomain): Promise<unknown> {
    this.collectXenConsole(d);
    await this.host.destroyDomain(d.domid);
    this.log(`dom${d.domid} (${d.name}) destroyed`);
    this.sweep();
    return { domid: d.domid };
  }

  /** Asks the guest to power off or reboot (control/shutdown, as xl does); optionally waits. */
  private async shutdown(d: HostDomain, reboot: boolean, wait: boolean): Promise<unknown> {
    await this.host.xs.write(
      `/local/domain/${d.domid}/control/shutdown`,
      reboot ? 'reboot' : 'poweroff',
    );
    if (!wait) return { domid: d.domid };
    const outcome = await new Promise<{ outcome: 'destroyed' | 'shutdown'; reason: number }>(
      (resolve) => {
        this.waiters.add({ dom: d, resolve });
        this.sweep();
      },
    );
    return { domid: d.domid, ...outcome };
  }

  private async rename(d: HostDomain, name: string): Promise<unknown> {
    if (!/^[A-Za-z0-9_.:+@-]+$/.test(name) || /^\d+$/.test(name))
      throw new ToolstackError('USAGE', `invalid domain name "${name}"`);
    if (name === 'Domain-0' || [...this.host.domains.values()].some((o) => o.name === name))
      throw new ToolstackError('STATE', `a domain named "${name}" already exists`);
    const old = d.name;
    d.name = name;
    await this.host.xs.write(`/local/domain/${d.domid}/name`, name);
    await this.host.xs.write(`/vm/${d.uuid}/name`, name);
    this.log(`dom${d.domid} renamed from ${old} to ${name}`);
    return { domid: d.domid, name };
  }

  private attach(client: Client, d: HostDomain, replay: boolean): unknown {
    if (!client.consoles.has(d.domid)) {
      const listener = (bytes: Uint8Array): void => {
        client.send({
          v: DAEMON_PROTOCOL_VERSION,
          event: 'console',
          domid: d.domid,
          data: Buffer.from(bytes).toString('base64'),
        });
      };
      d.consoleListeners.add(listener);
      client.consoles.set(d.domid, { dom: d, listener });
    }
    const text = replay ? d.consoleText().slice(-CONSOLE_REPLAY) : '';
    return {
      domid: d.domid,
      name: d.name,
      replay: Buffer.from(text, 'latin1').toString('base64'),
    };
  }

  private input(d: HostDomain, data: string): unknown {
    const bytes = new Uint8Array(Buffer.from(data, 'base64'));
    if (d.consoleBackend === undefined)
      throw new ToolstackError('STATE', `domain ${d.domid} has no console`);
    const q = this.inputQueues.get(d) ?? [];
    let queued = 0;
    for (const b of q) queued += b.length;
    if (queued + bytes.length > MAX_INPUT_BACKLOG) {
      throw new ToolstackError(
        'STATE',
        `domain ${d.domid} is not reading its console (${queued} bytes of input waiting)`,
      );
    }
    q.push(bytes);
    this.inputQueues.set(d, q);
    this.flushInput(d, q);
    return { domid: d.domid, bytes: bytes.length };
  }

  private flushInput(d: HostDomain, q: Uint8Array[]): void {
    while (q.length > 0 && this.host.domains.get(d.domid) === d) {
      const head = q[0] as Uint8Array;
      const n = this.host.consoleInput(d.domid, head);
      if (n < head.length) {
        q[0] = head.subarray(n);
        return;
      }
      q.shift();
    }
    this.inputQueues.delete(d);
  }

  private dmesg(clear: boolean): unknown {
    for (const d of this.host.domains.values()) this.collectXenConsole(d);
    const lines = [...this.dmesgLines];
    if (clear) this.dmesgLines.length = 0;
    return { lines };
  }

  /** Moves what a guest wrote with CONSOLEIO_write since the last look into `dmesg` lines. */
  private collectXenConsole(d: HostDomain): void {
    const text = d.xenConsoleText();
    let seen = this.xenConsoleSeen.get(d) ?? 0;
    if (seen > text.length) seen = 0;
    const fresh = text.slice(seen);
    const lastNl = fresh.lastIndexOf('\n');
    const gone = this.host.domains.get(d.domid) !== d;
    const upto = gone ? fresh.length : lastNl + 1;
    if (upto > 0) {
      for (const line of fresh.slice(0, upto).split('\n')) {
        if (line !== '') this.pushDmesg(`(d${d.domid}) ${line.replace(/\r$/, '')}`);
      }
    }
    if (gone) this.xenConsoleSeen.delete(d);
    else this.xenConsoleSeen.set(d, seen + upto);
  }

  private async blockList(d: HostDomain): Promise<unknown> {
    const xs = this.host.xs;
    const base = `/local/domain/${d.domid}/device/vbd`;
    const ids = await xs.directory(base).catch(() => [] as string[]);
    const rows = [];
    for (const id of ids.sort((a, b) => Number(a) - Number(b))) {
      const read = (k: string): Promise<string> =>
        xs.readString(`${base}/${id}/${k}`).catch(() => '-1');
      rows.push({
        vdev: Number(id),
        backendId: Number(await read('backend-id')),
        handle: Number(id),
        state: Number(await read('state')),
        eventChannel: Number(await read('event-channel')),
        ringRef: Number(await read('ring-ref')),
        backendPath: await read('backend'),
      });
    }
    return rows;
  }

  /** Periodic work: console ends, shutdown waiters, queued console input, guest Xen console. */
  private sweep(): void {
    for (const c of this.clients) {
      for (const [domid, att] of c.consoles) {
        if (this.host.domains.get(domid) === att.dom) continue;
        att.dom.consoleListeners.delete(att.listener);
        c.consoles.delete(domid);
        c.send({
          v: DAEMON_PROTOCOL_VERSION,
          event: 'console-end',
          domid,
          data: att.dom.shutdownName ?? 'destroyed',
        });
      }
    }
    for (const w of this.waiters) {
      const gone = this.host.domains.get(w.dom.domid) !== w.dom;
      if (gone || w.dom.shutdownReason >= 0) {
        this.waiters.delete(w);
        w.resolve({ outcome: gone ? 'destroyed' : 'shutdown', reason: w.dom.shutdownReason });
      }
    }
    for (const [d, q] of this.inputQueues) this.flushInput(d, q);
    for (const d of [...this.xenConsoleSeen.keys()]) {
      if (this.host.domains.get(d.domid) !== d) this.collectXenConsole(d);
    }
  }
}
