/**
 * `typevisor console DOM`: attaches the terminal to a domain's PV console as `xl console` does.
 * Output goes to stdout (what the daemon buffered first), input goes to the guest; on a TTY the
 * terminal is raw, so keys like Ctrl-C reach the guest. Ctrl-] detaches; the command also
 * returns when the domain goes away.
 */
import { parseArgs } from 'node:util';
import type { DaemonClient } from '../../daemon/client.ts';
import { withDaemon } from '../../daemon/connect.ts';
import { ToolstackError } from '../../errors.ts';
import type { CliIo, CommandSpec } from '../command.ts';

const USAGE = `Usage: typevisor console [-t pv] [-n NUM] DOMAIN

Attach to DOMAIN's console. Ctrl-] detaches. Input is sent to the guest as typed (the
terminal is put in raw mode when stdin is a TTY).

Options:
  -t pv      console type (only pv)
  -n NUM     console number (only 0)
`;

/** Ctrl-]: xenconsole's escape character. */
export const CONSOLE_ESCAPE = 0x1d;

/**
 * Attaches `client` to the console of `domain` with the process's stdin and `io.stdout`.
 * Resolves when the user detaches (Ctrl-]) or the domain goes away.
 */
export async function attachConsole(
  client: DaemonClient,
  domain: string,
  io: CliIo,
): Promise<'detached' | 'ended'> {
  const decoder = new TextDecoder('utf-8');
  let finish: (how: 'detached' | 'ended') => void = () => undefined;
  const done = new Promise<'detached' | 'ended'>((resolve) => {
    finish = resolve;
  });
  client.onEvent = (ev) => {
    if (ev.event === 'console') {
      io.stdout(decoder.decode(Buffer.from(ev.data, 'base64'), { stream: true }));
    } else if (ev.event === 'console-end') finish('ended');
  };
  client.onClose = () => finish('ended');
  const attached = await client.call<{ domid: number; replay: string }>('console.attach', {
    domain,
  });
  io.stdout(decoder.decode(Buffer.from(attached.replay, 'base64'), { stream: true }));

  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  let sending = Promise.resolve();
  const onData = (chunk: Buffer): void => {
    const esc = chunk.indexOf(CONSOLE_ESCAPE);
    const bytes = esc >= 0 ? chunk.subarray(0, esc) : chunk;
    if (bytes.length > 0) {
      const data = bytes.toString('base64');
      sending = sending
        .then(() => client.call('console.input', { domain: String(attached.domid), data }))
        .then(
          () => undefined,
          () => undefined,
        );
    }
    if (esc >= 0) finish('detached');
  };
  if (tty) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.resume();
  const how = await done;
  stdin.off('data', onData);
  stdin.pause();
  if (tty) stdin.setRawMode(false);
  await sending;
  if (how === 'detached') {
    await client.call('console.detach', { domain: String(attached.domid) }).catch(() => undefined);
  }
  return how;
}

/** The `console` verb. */
export const consoleVerb: CommandSpec = {
  name: 'console',
  summary: "Attach to a domain's console (Ctrl-] detaches)",
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { t: { type: 'string', short: 't' }, n: { type: 'string', short: 'n' } },
    });
    if (values.t !== undefined && values.t !== 'pv')
      throw new ToolstackError('USAGE', `console type "${values.t}" is not supported (pv only)`);
    if (values.n !== undefined && values.n !== '0')
      throw new ToolstackError('USAGE', `console ${values.n} does not exist (0 only)`);
    const domain = positionals[0];
    if (domain === undefined || positionals.length > 1)
      throw new ToolstackError('USAGE', 'expected one DOMAIN');
    await withDaemon(io.env, (c) => attachConsole(c, domain, io));
    return 0;
  },
};
