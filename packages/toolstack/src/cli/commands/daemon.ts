/**
 * `typevisor daemon`: the long-running host process the xl verbs talk to. It owns one Host
 * (hypervisor, dom0, xenstored, backends), serves the control socket and the host's xenstore,
 * and shuts down cleanly on SIGTERM or SIGINT (domains destroyed, sockets removed).
 */
import { appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { TypevisorDaemon } from '../../daemon/daemon.ts';
import { controlSocketPath, daemonLogPath } from '../../daemon/paths.ts';
import { startDetachedDaemon } from '../../daemon/spawn.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor daemon [--socket PATH] [--xenstored-socket PATH|none] [--memory MiB]
                        [--time real|virtual] [--sched credit|sedf] [--pcpus N] [--log FILE] [--detach]
                        [--migrate-listen [ADDR:]PORT]

Run the Typevisor host daemon: the hypervisor, dom0, xenstored and the backends in one
process that the xl verbs (create, list, console, ...) talk to. Stop it with SIGTERM or
SIGINT: its domains are destroyed and its sockets removed.

Options:
  --socket PATH            control socket (default $TYPEVISOR_SOCKET, else
                           $TYPEVISOR_RUN_DIR/typevisor.sock; the run directory defaults to
                           /run/typevisor when writable, else $TMPDIR/typevisor-<uid>)
  --xenstored-socket PATH  serve the host's xenstore here for XENSTORED_PATH clients
                           (default: xenstored.sock next to the control socket; 'none': off)
  --memory MiB             machine memory (default 512, at most 1024)
  --time real|virtual      wall-clock time (default) or deterministic virtual time
  --sched credit|sedf      the vCPU scheduler (Xen's sched=; default credit)
  --pcpus N                physical CPUs the guests' vCPUs are scheduled on (default 1,
                           at most 64; simulated in turn on one thread)
  --log FILE               append the log to FILE instead of stderr
  --detach                 start in the background (log: --log, else typevisor.log in the
                           run directory) and return once it answers
  --migrate-listen ADDR:PORT  receive 'typevisor migrate' domains on this TCP address
                           (the book's xend used 127.0.0.1:8002)
`;

/** The `daemon` verb. */
export const daemon: CommandSpec = {
  name: 'daemon',
  summary: 'Run the host daemon the xl verbs talk to',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values } = parseArgs({
      args: [...args],
      options: {
        socket: { type: 'string' },
        'xenstored-socket': { type: 'string' },
        memory: { type: 'string' },
        time: { type: 'string' },
        sched: { type: 'string' },
        pcpus: { type: 'string' },
        log: { type: 'string' },
        detach: { type: 'boolean' },
        'migrate-listen': { type: 'string' },
      },
    });
    const socket = values.socket ?? controlSocketPath(io.env);
    const xsOpt = values['xenstored-socket'];
    const xenstoredSocket =
      xsOpt === 'none' ? undefined : (xsOpt ?? join(dirname(socket), 'xenstored.sock'));
    const memoryMiB = values.memory === undefined ? 512 : Number(values.memory);
    if (!Number.isInteger(memoryMiB))
      throw new ToolstackError('USAGE', `--memory must be a number of MiB, got "${values.memory}"`);
    const time = values.time ?? 'real';
    if (time !== 'real' && time !== 'virtual')
      throw new ToolstackError('USAGE', `--time must be real or virtual, got "${time}"`);
    const pcpus = values.pcpus === undefined ? 1 : Number(values.pcpus);
    if (!Number.isInteger(pcpus) || pcpus < 1 || pcpus > 64)
      throw new ToolstackError('USAGE', `--pcpus must be 1 to 64, got "${values.pcpus}"`);
    const sched = values.sched ?? 'credit';
    if (sched !== 'credit' && sched !== 'sedf')
      throw new ToolstackError('USAGE', `--sched must be credit or sedf, got "${sched}"`);

    if (values.detach === true) {
      const logPath = values.log ?? daemonLogPath(io.env);
      const rest = [
        '--xenstored-socket',
        xenstoredSocket ?? 'none',
        '--memory',
        String(memoryMiB),
        '--time',
        time,
        '--sched',
        sched,
        '--pcpus',
        String(pcpus),
        ...(values['migrate-listen'] === undefined
          ? []
          : ['--migrate-listen', values['migrate-listen']]),
      ];
      const d = await startDetachedDaemon({ socketPath: socket, logPath, args: rest, env: io.env });
      io.stdout(`typevisor daemon: started (pid ${d.pid}) on ${socket}, log ${d.logPath}\n`);
      return 0;
    }

    const logFile = values.log;
    const log = (line: string): void => {
      if (logFile === undefined) io.stderr(`${line}\n`);
      else appendFileSync(logFile, `${line}\n`);
    };
    const d = await TypevisorDaemon.start({
      socketPath: socket,
      ...(xenstoredSocket === undefined ? {} : { xenstoredSocketPath: xenstoredSocket }),
      memoryMiB,
      time,
      scheduler: sched,
      pcpus,
      log,
      ...(values['migrate-listen'] === undefined
        ? {}
        : { migrateListen: values['migrate-listen'] }),
    });
    // The daemon owns running guests: a stray rejection or exception in a backend is logged
    // (to be fixed) rather than taking every domain down with the process.
    const onStray = (err: unknown): void => {
      d.log(`internal error (daemon keeps running): ${(err as Error)?.stack ?? String(err)}`);
    };
    process.on('unhandledRejection', onStray);
    process.on('uncaughtException', onStray);
    const signal = await new Promise<string>((resolve) => {
      const onSignal = (sig: string): void => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolve(sig);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    await d.stop(signal);
    process.off('unhandledRejection', onStray);
    process.off('uncaughtException', onStray);
    return 0;
  },
};
