/**
 * Loading a domain configuration for `create`: the file's text with the `KEY=VALUE` overrides
 * from the command line appended (as xl does), checked with the same parser everywhere so the CLI
 * and the daemon report the same `file:line: key: …` errors. Relative paths in `kernel`,
 * `ramdisk` and `disk` are resolved against the directory the command ran in.
 * @module
 */
import { isAbsolute, resolve } from 'node:path';
import type { DiskSpec } from '../config/disk-spec.ts';
import { type DomainConfig, toDomainConfig } from '../config/domain-config.ts';
import { parseXlConfig } from '../config/xl-cfg.ts';

/** What `create` sends to the daemon: the configuration's text, where it came from, overrides. */
export interface CreateRequest {
  /** The configuration file's text. */
  readonly text: string;
  /** The file's path, for messages. */
  readonly source: string;
  /** `KEY=VALUE` overrides from the command line. */
  readonly overrides: readonly string[];
  /** The directory relative paths are resolved against. */
  readonly cwd: string;
}

function absolute(path: string, cwd: string): string {
  return path === '' || isAbsolute(path) ? path : resolve(cwd, path);
}

/**
 * Parses and checks a configuration with its overrides and makes its paths absolute. Throws a
 * `CONFIG` ToolstackError naming the file, the line and the key.
 */
export function loadDomainConfig(request: CreateRequest): DomainConfig {
  // As xl does: the overrides are appended to the file's text, so a later setting wins and an
  // error in one names the file and a line past its end.
  const text =
    request.overrides.length === 0
      ? request.text
      : `${request.text}${request.text.endsWith('\n') ? '' : '\n'}${request.overrides.join('\n')}\n`;
  const config = toDomainConfig(parseXlConfig(text, request.source));
  const out: { -readonly [K in keyof DomainConfig]: DomainConfig[K] } = { ...config };
  if (config.kernel !== undefined) out.kernel = absolute(config.kernel, request.cwd);
  if (config.ramdisk !== undefined) out.ramdisk = absolute(config.ramdisk, request.cwd);
  out.disks = config.disks.map(
    (d): DiskSpec => (d.target === '' ? d : { ...d, target: absolute(d.target, request.cwd) }),
  );
  return out;
}
