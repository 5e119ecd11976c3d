/**
 * The xl.cfg file syntax (also accepted for the book's xm configs), as parsed by Xen's
 * libxlu: `KEY = VALUE` or `KEY += VALUE` statements ended by a newline or `;`, where a
 * value is a quoted string, a number, or a `[ … ]` list that may span lines and end with a
 * trailing comma. `#` starts a comment. Strings take C escapes (`\n`, `\t`, `\\`, `\"`,
 * `\'`, `\a \b \f \r \v`, `\xHH`, octal `\NNN`).
 *
 * @see xen/docs/man/xl.cfg.5.pod.in ("Syntax"), tools/libs/util/libxlu_cfg_l.l
 */
import { ToolstackError } from '../errors.ts';

/** A value in an xl.cfg file. Numbers keep their text (`0x10`, `256`) until interpreted. */
export type XlValue =
  | { readonly kind: 'string'; readonly value: string; readonly line: number }
  | { readonly kind: 'number'; readonly text: string; readonly line: number }
  | { readonly kind: 'list'; readonly items: readonly XlValue[]; readonly line: number };

/** One `KEY = VALUE` (or `KEY += VALUE`) statement. */
export interface XlSetting {
  /** The key, as written. */
  readonly name: string;
  /** The value; for `+=` the value already concatenated with the earlier one. */
  readonly value: XlValue;
  /** 1-based line of the key. */
  readonly line: number;
}

/** A parsed xl.cfg file: the last setting of each key wins, as in xl. */
export interface XlConfigFile {
  /** Where the text came from, for messages (a path, or `<string>`). */
  readonly source: string;
  /** Settings by key, in the order of their last definition. */
  readonly settings: ReadonlyMap<string, XlSetting>;
}

type Token =
  | { t: 'id'; v: string; line: number }
  | { t: 'string'; v: string; line: number }
  | { t: 'number'; v: string; line: number }
  | { t: 'punct'; v: '=' | '+=' | '[' | ']' | ',' | ';'; line: number }
  | { t: 'nl'; line: number }
  | { t: 'eof'; line: number };

function configError(source: string, line: number, near: string, msg: string): ToolstackError {
  const where = near === '' ? '' : ` near \`${near}'`;
  return new ToolstackError('CONFIG', `${source}:${line}: config parsing error${where}: ${msg}`);
}

const ESCAPES: Record<string, string> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

function dequote(raw: string, source: string, line: number): string {
  let out = '';
  for (let i = 1; i < raw.length - 1; i++) {
    const c = raw[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = raw[++i] as string;
    const simple = ESCAPES[n];
    if (simple !== undefined) {
      out += simple;
    } else if (n === 'x') {
      const hex = /^[0-9a-fA-F]{2}/.exec(raw.slice(i + 1, raw.length - 1));
      if (hex === null) throw configError(source, line, raw, 'invalid hex escape in quoted string');
      out += String.fromCharCode(Number.parseInt(hex[0], 16));
      i += 2;
    } else if (n >= '0' && n <= '7') {
      const oct = /^[0-7]{1,3}/.exec(raw.slice(i, raw.length - 1)) as RegExpExecArray;
      out += String.fromCharCode(Number.parseInt(oct[0], 8) & 0xff);
      i += oct[0].length - 1;
    } else {
      throw configError(source, line, raw, 'invalid character after backslash in quoted string');
    }
  }
  return out;
}

function tokenize(text: string, source: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\n') {
      tokens.push({ t: 'nl', line });
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      if (text[j] !== c) throw configError(source, line, text.slice(i, j), 'unterminated string');
      tokens.push({ t: 'string', v: dequote(text.slice(i, j + 1), source, line), line });
      i = j + 1;
    } else if (/[0-9]/.test(c)) {
      const m = /^(0x[0-9a-fA-F]+|[0-9]+)(?![A-Za-z0-9_.])/.exec(text.slice(i));
      if (m === null) {
        const bad = /^[^\s,;\]]*/.exec(text.slice(i))?.[0] ?? c;
        throw configError(source, line, bad, 'malformed number');
      }
      tokens.push({ t: 'number', v: m[0], line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ t: 'id', v: m[0], line });
      i += m[0].length;
    } else if (c === '+' && text[i + 1] === '=') {
      tokens.push({ t: 'punct', v: '+=', line });
      i += 2;
    } else if (c === '=' || c === '[' || c === ']' || c === ',' || c === ';') {
      tokens.push({ t: 'punct', v: c, line });
      i++;
    } else {
      throw configError(source, line, c, 'unexpected character');
    }
  }
  tokens.push({ t: 'eof', line });
  return tokens;
}

function describe(tok: Token): string {
  if (tok.t === 'nl') return '<newline>';
  if (tok.t === 'eof') return '<end of file>';
  return tok.v;
}

function concat(prev: XlValue, next: XlValue, source: string, line: number): XlValue {
  if (prev.kind === 'string' && next.kind === 'string') {
    return { kind: 'string', value: prev.value + next.value, line: prev.line };
  }
  if (prev.kind === 'list' && next.kind === 'list') {
    return { kind: 'list', items: [...prev.items, ...next.items], line: prev.line };
  }
  throw configError(source, line, '+=', `cannot append a ${next.kind} to a ${prev.kind}`);
}

/**
 * Parses the text of an xl.cfg (or xm) domain configuration file. Throws a
 * {@link ToolstackError} with code `CONFIG` whose message names the source, the line and
 * what was found there, in xl's format (`FILE:LINE: config parsing error near `X': why`).
 */
export function parseXlConfig(text: string, source = '<string>'): XlConfigFile {
  const tokens = tokenize(text, source);
  let p = 0;
  const peek = (): Token => tokens[p] as Token;
  const next = (): Token => tokens[p++] as Token;
  const skipNewlines = (): void => {
    while (peek().t === 'nl') p++;
  };

  const parseValue = (): XlValue => {
    const tok = next();
    if (tok.t === 'string') return { kind: 'string', value: tok.v, line: tok.line };
    if (tok.t === 'number') return { kind: 'number', text: tok.v, line: tok.line };
    if (tok.t === 'punct' && tok.v === '[') {
      const items: XlValue[] = [];
      skipNewlines();
      while (!(peek().t === 'punct' && (peek() as { v: string }).v === ']')) {
        items.push(parseValue());
        skipNewlines();
        const sep = peek();
        if (sep.t === 'punct' && sep.v === ',') {
          p++;
          skipNewlines();
        } else if (!(sep.t === 'punct' && sep.v === ']')) {
          throw configError(source, sep.line, describe(sep), "expected ',' or ']' in list");
        }
      }
      p++; // ']'
      return { kind: 'list', items, line: tok.line };
    }
    throw configError(source, tok.line, describe(tok), 'expected a string, a number or a list');
  };

  const settings = new Map<string, XlSetting>();
  for (;;) {
    const tok = next();
    if (tok.t === 'eof') break;
    if (tok.t === 'nl' || (tok.t === 'punct' && tok.v === ';')) continue;
    if (tok.t !== 'id')
      throw configError(source, tok.line, describe(tok), 'expected a setting name');
    const op = next();
    if (op.t !== 'punct' || (op.v !== '=' && op.v !== '+=')) {
      throw configError(source, op.line, describe(op), `expected '=' after ${tok.v}`);
    }
    let value = parseValue();
    const end = next();
    if (!(end.t === 'nl' || end.t === 'eof' || (end.t === 'punct' && end.v === ';'))) {
      throw configError(source, end.line, describe(end), 'expected the end of the setting');
    }
    if (end.t === 'eof') p--;
    const prev = settings.get(tok.v);
    if (op.v === '+=' && prev !== undefined) value = concat(prev.value, value, source, tok.line);
    settings.delete(tok.v); // keep the last definition's position, as xl's lookup finds it
    settings.set(tok.v, { name: tok.v, value, line: tok.line });
  }
  return { source, settings };
}
