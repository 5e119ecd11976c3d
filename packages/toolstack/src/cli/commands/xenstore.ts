/**
 * `typevisor xenstore`: the xenstore client tools of Xen (`xenstore-read`, `-write`, `-ls`,
 * `-list`, `-rm`, `-exists`, `-chmod`, `-watch`) as one verb with the same options, output
 * formats and exit statuses, plus `mkdir`. The daemon is found like libxenstore finds it:
 * `XENSTORED_PATH`, else `XENSTORED_RUNDIR/socket`, else `/var/run/xenstored/socket`.
 *
 * @see tools/xenstore/xenstore_client.c (Xen 4.17)
 */
import { XenstoreClient, XenstoreError, type XenstoreOps } from '@typevisor/xenstore';
import { connectSocket, defaultSocketPath } from '@typevisor/xenstore/node';
import type { CliIo, CommandSpec } from '../command.ts';

const MODES = ['read', 'write', 'ls', 'list', 'rm', 'exists', 'chmod', 'watch', 'mkdir'] as const;
type Mode = (typeof MODES)[number];

const MODE_USAGE: Record<Mode, string> = {
  read: '[-h] [-p] [-s] [-R] key [...]',
  write: '[-h] [-s] [-R] key value [...]',
  ls: '[-h] [-f] [-p] [-s] [path]',
  list: '[-h] [-p] [-s] key [...]',
  rm: '[-h] [-s] [-t] key [...]',
  exists: '[-h] [-s] key [...]',
  chmod: '[-h] [-u] [-r] [-s] key <mode [modes...]>',
  watch: '[-h] [-n NR] key',
  mkdir: '[-h] [-s] key [...]',
};

const USAGE = `Usage: typevisor xenstore <mode> [options] args...

Talk to a xenstore daemon like Xen's xenstore-<mode> tools, with the same output.

Modes:
${MODES.map((m) => `  ${m.padEnd(7)} ${MODE_USAGE[m]}`).join('\n')}

The daemon socket is $XENSTORED_PATH, else $XENSTORED_RUNDIR/socket, else
/var/run/xenstored/socket.
`;

/** strerror() texts for the errno names xenstored sends. */
const STRERROR: Record<string, string> = {
  EINVAL: 'Invalid argument',
  EACCES: 'Permission denied',
  EEXIST: 'File exists',
  EISDIR: 'Is a directory',
  ENOENT: 'No such file or directory',
  ENOMEM: 'Cannot allocate memory',
  ENOSPC: 'No space left on device',
  EIO: 'Input/output error',
  ENOTEMPTY: 'Directory not empty',
  ENOSYS: 'Function not implemented',
  EROFS: 'Read-only file system',
  EBUSY: 'Device or resource busy',
  EAGAIN: 'Resource temporarily unavailable',
  EISCONN: 'Transport endpoint is already connected',
  E2BIG: 'Argument list too long',
  EPERM: 'Operation not permitted',
};

function strerror(err: unknown): string {
  if (err instanceof XenstoreError && err.errno !== undefined)
    return STRERROR[err.errno] ?? err.errno;
  return err instanceof Error ? err.message : String(err);
}

/** Xen's `xs_sanitise_value()`: escapes bytes the way the C tools print values. */
export function sanitiseValue(value: Uint8Array): string {
  let s = '';
  for (const c of value) {
    if (c === 0x5c) s += '\\\\';
    else if (c >= 0x20 && c <= 0x7e) s += String.fromCharCode(c);
    else if (c === 9) s += '\\t';
    else if (c === 10) s += '\\n';
    else if (c === 13) s += '\\r';
    else if (c < 8) s += `\\00${c}`;
    else s += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s;
}

/** Xen's `xs_unsanitise_value()`: `\t \n \r \\`, `\xHH` and `\ooo` escapes to bytes. */
export function unsanitiseValue(spec: string): Uint8Array {
  const out: number[] = [];
  const bytes = Buffer.from(spec, 'utf8');
  let i = 0;
  while (i < bytes.length) {
    let c = bytes[i++] as number;
    if (c === 0x5c) {
      const e = bytes[i];
      const named = e === 0x74 ? 9 : e === 0x6e ? 10 : e === 0x72 ? 13 : -1;
      if (e === undefined) c = 0;
      else if (named >= 0) {
        c = named;
        i++;
      } else if (e === 0x78) {
        i++;
        const m = /^[0-9a-fA-F]{1,2}/.exec(String.fromCharCode(...bytes.subarray(i, i + 2)));
        if (m) {
          c = Number.parseInt(m[0], 16);
          i += m[0].length;
        } else c = 0x78;
      } else if (e >= 0x30 && e <= 0x37) {
        const m = /^[0-7]{1,3}/.exec(
          String.fromCharCode(...bytes.subarray(i, i + 3)),
        ) as RegExpExecArray;
        c = Number.parseInt(m[0], 8) & 0xff;
        i += m[0].length;
      } else {
        c = e;
        i++;
      }
    }
    out.push(c);
  }
  return Uint8Array.from(out);
}

interface Options {
  flags: Set<string>;
  count: number | undefined;
  rest: string[];
}

/** GNU getopt-style parsing: options may follow operands; `--` ends them. */
function parseOptions(mode: Mode, args: readonly string[]): Options | string {
  const allowed: Record<Mode, string> = {
    read: 'hspfR',
    write: 'hsR',
    ls: 'hsfp',
    list: 'hspf',
    rm: 'hst',
    exists: 'hs',
    chmod: 'hsur',
    watch: 'hn',
    mkdir: 'hs',
  };
  const flags = new Set<string>();
  let count: number | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') {
      rest.push(...args.slice(i + 1));
      break;
    }
    if (a.length < 2 || !a.startsWith('-')) {
      rest.push(a);
      continue;
    }
    for (let k = 1; k < a.length; k++) {
      const f = a[k] as string;
      if (!allowed[mode].includes(f)) return `invalid option -- '${f}'`;
      if (f === 'n') {
        const v = k + 1 < a.length ? a.slice(k + 1) : args[++i];
        if (v === undefined || !/^-?\d+$/.test(v))
          return "option requires a numeric argument -- 'n'";
        count = Number(v);
        break;
      }
      flags.add(f);
    }
  }
  return { flags, count, rest };
}

class Output {
  text = '';
}

async function perform(
  mode: Mode,
  o: Options,
  ops: XenstoreOps,
  out: Output,
  io: CliIo,
  prog: string,
): Promise<number> {
  const prefix = o.flags.has('p');
  const args = o.rest;
  switch (mode) {
    case 'read':
      for (const key of args) {
        let val: Uint8Array;
        try {
          val = await ops.read(key);
        } catch {
          io.stderr(`${prog}: couldn't read path ${key}\n`);
          return 1;
        }
        if (prefix) out.text += `${key}: `;
        out.text += o.flags.has('R')
          ? Buffer.from(val).toString('latin1')
          : `${sanitiseValue(val)}\n`;
      }
      return 0;
    case 'write':
      for (let i = 0; i + 1 < args.length; i += 2) {
        const key = args[i] as string;
        const spec = args[i + 1] as string;
        try {
          await ops.write(
            key,
            o.flags.has('R') ? Buffer.from(spec, 'utf8') : unsanitiseValue(spec),
          );
        } catch {
          io.stderr(`${prog}: could not write path ${key}\n`);
          return 1;
        }
      }
      return 0;
    case 'mkdir':
      for (const key of args) {
        try {
          await ops.mkdir(key);
        } catch {
          io.stderr(`${prog}: could not create path ${key}\n`);
          return 1;
        }
      }
      return 0;
    case 'rm':
      for (const key of args) {
        let path = key;
        for (;;) {
          try {
            await ops.rm(path);
          } catch {
            io.stderr(`${prog}: could not remove path ${path}\n`);
            return 1;
          }
          if (!o.flags.has('t')) break;
          const slash = path.lastIndexOf('/');
          if (slash < 0) break;
          path = path.slice(0, slash);
          const val = await ops.read(path).catch(() => undefined);
          if (val === undefined || val.length !== 0) break;
          const list = await ops.directory(path).catch(() => undefined);
          if (list === undefined || list.length !== 0) break;
        }
      }
      return 0;
    case 'exists':
      for (const key of args) {
        if (!(await ops.exists(key).catch(() => false))) return 1;
      }
      return 0;
    case 'list':
      for (const key of args) {
        let list: string[];
        try {
          list = await ops.directory(key);
        } catch {
          io.stderr(`${prog}: could not list path ${key}\n`);
          return 1;
        }
        for (const name of list) out.text += prefix ? `${key}/${name}\n` : `${name}\n`;
      }
      return 0;
    case 'chmod': {
      const [path, ...specs] = args as [string, ...string[]];
      const perms: string[] = [];
      for (const s of specs) {
        if (!'nrwb'.includes(s[0] ?? '?') || s.length === 0) {
          io.stderr(`${prog}: Invalid permission specification: '${s[0] ?? ''}'\n`);
          return 1;
        }
        const m = /^[ \t]*([+-]?\d+)/.exec(s.slice(1));
        perms.push(`${s[0]}${m ? Number(BigInt.asIntN(32, BigInt(m[1] as string))) : 0}`);
      }
      return chmod(path, perms, o.flags.has('u'), o.flags.has('r'), ops, io, prog);
    }
    default:
      return 1;
  }
}

async function chmod(
  path: string,
  perms: readonly string[],
  upto: boolean,
  recurse: boolean,
  ops: XenstoreOps,
  io: CliIo,
  prog: string,
): Promise<number> {
  if (path === '') return 0;
  try {
    await ops.setPerms(path, perms);
  } catch (err) {
    io.stderr(`${prog}: Error occurred setting permissions on '${path}': ${strerror(err)}\n`);
    return 1;
  }
  if (upto) {
    const slash = path.lastIndexOf('/');
    if (slash < 0) {
      io.stderr(`${prog}: Unable to locate path separator '/' in '${path}'\n`);
      return 1;
    }
    const rc = await chmod(path.slice(0, slash), perms, true, false, ops, io, prog);
    if (rc !== 0) return rc;
  }
  if (recurse) {
    const children = await ops.directory(path).catch(() => [] as string[]);
    for (const c of children) {
      const rc = await chmod(`${path}/${c}`, perms, false, true, ops, io, prog);
      if (rc !== 0) return rc;
    }
  }
  return 0;
}

/** `xenstore-ls`'s tree printer (`do_ls`): indentation, truncation to the width, permissions. */
async function ls(
  client: XenstoreClient,
  path: string,
  depth: number,
  showPerms: boolean,
  whole: boolean,
  io: CliIo,
  prog: string,
): Promise<number> {
  const maxWidth = whole ? 0x3fffffff : 80;
  const desiredWidth = whole ? 0 : 60;
  const TAG_LEN = 8; // strlen(" = \"...\"")
  let names: string[];
  try {
    names = await client.directory(path);
  } catch (err) {
    if (
      depth > 0 &&
      err instanceof XenstoreError &&
      (err.errno === 'ENOENT' || err.errno === 'EACCES')
    )
      return 0;
    io.stderr(`${prog}: xs_directory (${path}): ${strerror(err)}\n`);
    return 1;
  }
  for (const name of names) {
    const full = `${path}${path.endsWith('/') ? '' : '/'}${name}`;
    let line = '';
    let width = 0;
    if (whole) line += full;
    else {
      line += ' '.repeat(depth);
      width = depth;
      const shown = name.slice(0, Math.max(0, maxWidth - TAG_LEN - width));
      line += shown;
      width += shown.length;
    }
    const val = await client.read(full).catch(() => undefined);
    if (val === undefined) line += ':\n';
    else {
      const text = sanitiseValue(val);
      if (maxWidth < width + val.length + TAG_LEN) {
        line += ` = "${text.slice(0, Math.max(0, maxWidth - TAG_LEN - width))}\\..."`;
      } else {
        const part = ` = "${text}"`;
        line += part;
        width += part.length;
        if (showPerms) {
          line += ' ';
          for (width++; width < Math.min(desiredWidth, maxWidth); width++)
            line += width & 1 ? '.' : ' ';
        }
      }
    }
    if (showPerms) {
      try {
        line += `  (${(await client.getPerms(full)).join(',')})`;
      } catch (err) {
        io.stdout(line);
        line = '';
        io.stderr(`${prog}: \ncould not access permissions for ${name}: ${strerror(err)}\n`);
      }
    }
    io.stdout(`${line}\n`);
    const rc = await ls(client, full, depth + 1, showPerms, whole, io, prog);
    if (rc !== 0) return rc;
  }
  return 0;
}

async function watch(
  client: XenstoreClient,
  key: string,
  count: number | undefined,
  io: CliIo,
): Promise<number> {
  const w = await client.watch(key, key);
  let left = count ?? -1;
  const stop = (): void => {
    void w.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for await (const ev of w) {
      io.stdout(`${ev.path}\n`);
      if (left > 0 && --left === 0) break;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await w.close();
  }
  return 0;
}

/** The `xenstore` verb. */
export const xenstore: CommandSpec = {
  name: 'xenstore',
  summary: 'Read and write the xenstore like Xen’s xenstore-* tools',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const mode = args[0] as Mode | undefined;
    if (mode === undefined || !MODES.includes(mode)) {
      io.stderr(mode === undefined ? USAGE : `typevisor xenstore: unknown mode ${mode}\n`);
      return 1;
    }
    const prog = `typevisor xenstore ${mode}`;
    const usage = (): number => {
      io.stderr(`${prog}: Usage: typevisor xenstore ${mode} ${MODE_USAGE[mode]}\n`);
      return 1;
    };
    const o = parseOptions(mode, args.slice(1));
    if (typeof o === 'string') {
      io.stderr(`${prog}: ${o}\n`);
      return usage();
    }
    if (o.flags.has('h')) return usage();
    const n = o.rest.length;
    if (mode === 'write' && n % 2 === 1) return usage();
    if (mode === 'watch' ? n !== 1 : mode !== 'ls' && n === 0) return usage();
    if (mode === 'chmod' && n < 2) return usage();
    let client: XenstoreClient;
    try {
      client = new XenstoreClient(await connectSocket(defaultSocketPath(io.env)));
    } catch (err) {
      io.stderr(`${prog}: xs_open: ${strerror(err)}\n`);
      return 1;
    }
    try {
      if (mode === 'ls') {
        for (const path of n === 0 ? ['/'] : o.rest) {
          const rc = await ls(client, path, 0, o.flags.has('p'), o.flags.has('f'), io, prog);
          if (rc !== 0) return rc;
        }
        return 0;
      }
      if (mode === 'watch') return await watch(client, o.rest[0] as string, o.count, io);
      const inTxn = mode === 'read' ? n > 1 : mode === 'write' ? n > 2 : true;
      const out = new Output();
      let rc = 0;
      if (inTxn) {
        const failed = Symbol('failed');
        try {
          await client.transaction(async (tx) => {
            out.text = '';
            rc = await perform(mode, o, tx, out, io, prog);
            if (rc !== 0) throw failed;
          });
        } catch (err) {
          if (err !== failed) {
            io.stderr(`${prog}: couldn't end transaction\n`);
            return 1;
          }
        }
      } else rc = await perform(mode, o, client, out, io, prog);
      if (out.text !== '') io.stdout(out.text);
      return rc;
    } finally {
      client.close();
    }
  },
};
