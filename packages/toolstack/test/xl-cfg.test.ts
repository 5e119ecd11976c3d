import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseXlConfig, ToolstackError } from '../src/index.ts';

function values(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const plain = (v: import('../src/index.ts').XlValue): unknown =>
    v.kind === 'string' ? v.value : v.kind === 'number' ? Number(v.text) : v.items.map(plain);
  for (const [k, s] of parseXlConfig(text).settings) out[k] = plain(s.value);
  return out;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ToolstackError);
    expect((err as ToolstackError).code).toBe('CONFIG');
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('xl.cfg syntax', () => {
  it('reads strings in both quotes, decimal and hex numbers, comments and semicolons', () => {
    expect(
      values(`name = "web" # the name\nmemory=256; vcpus = 0x2\nkernel='/boot/vmlinuz'\n`),
    ).toEqual({
      name: 'web',
      memory: 256,
      vcpus: 2,
      kernel: '/boot/vmlinuz',
    });
  });

  it('reads lists across lines with a trailing comma, as the book writes disk lists', () => {
    const text = `disk = [ 'phy:/dev/VolGroup00/root-TEST-FC6,xvda,w',\n  'file:/vhosts/XP.img,hda,w',\n]\n`;
    expect(values(text)).toEqual({
      disk: ['phy:/dev/VolGroup00/root-TEST-FC6,xvda,w', 'file:/vhosts/XP.img,hda,w'],
    });
    expect(values('vif = [ ]')).toEqual({ vif: [] });
  });

  it('applies C escapes inside quoted strings, including hex and octal', () => {
    expect(values(String.raw`extra = "a\tb\n\"q\" \x41\101\\"`)).toEqual({
      extra: 'a\tb\n"q" AA\\',
    });
  });

  it('lets the last definition win and += append to strings and lists', () => {
    expect(
      values('memory = 1\nmemory = 2\nextra = "a"\nextra += " b"\ndisk = ["x"]\ndisk += ["y"]\n'),
    ).toEqual({
      memory: 2,
      extra: 'a b',
      disk: ['x', 'y'],
    });
  });

  it('reports the source, line and what was found for syntax errors', () => {
    expect(errorOf(() => parseXlConfig('name = "a"\nmemory = \n', 'web.cfg'))).toBe(
      "toolstack: web.cfg:2: config parsing error near `<newline>': expected a string, a number or a list",
    );
    expect(errorOf(() => parseXlConfig('name = "unterminated\n', 'a.cfg'))).toMatch(
      /^toolstack: a\.cfg:1: config parsing error near `"unterminated': unterminated string$/,
    );
    expect(errorOf(() => parseXlConfig('disk = [ "a" "b" ]', 'b.cfg'))).toMatch(
      /b\.cfg:1: .*near `b'.*expected ','/,
    );
    expect(errorOf(() => parseXlConfig('= 3', 'c.cfg'))).toMatch(
      /c\.cfg:1: .*near `='.*expected a setting name/,
    );
    expect(errorOf(() => parseXlConfig('x = 12abc', 'd.cfg'))).toMatch(
      /d\.cfg:1: .*near `12abc'.*malformed number/,
    );
    expect(errorOf(() => parseXlConfig('x = "\\q"', 'e.cfg'))).toMatch(
      /invalid character after backslash/,
    );
    expect(errorOf(() => parseXlConfig('x = "a"\nx += [1]', 'f.cfg'))).toMatch(
      /f\.cfg:2: .*cannot append a list to a string/,
    );
  });

  it('never fails with anything but a CONFIG error on arbitrary input (fuzz)', () => {
    const alphabet = fc.constantFrom(...'ab_.09x="\'[],;#+=\\ \t\n\r-'.split(''));
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 80 }).map((a) => a.join('')),
        (text) => {
          try {
            parseXlConfig(text, 'fuzz.cfg');
          } catch (err) {
            if (!(err instanceof ToolstackError) || err.code !== 'CONFIG') throw err;
            expect(err.message).toMatch(/^toolstack: fuzz\.cfg:\d+: /);
          }
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
