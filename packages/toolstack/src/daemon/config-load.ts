/**
 * Loading a domain configuration for `create`: the file's settings, then `KEY=VALUE` overrides
 * from the command line (as xl appends them), checked with the same parser everywhere so the CLI
 * and the daemon report the same `file:line: key: …` errors. Relative paths in `kernel`,
 * `ramdisk` and `disk` are resolved against the directory the command ran in.
 * @module
 */
import { isAbsolute, resolve } from 'node:path';
import type { DiskSpec } from '../config/disk-spec.ts';
import { type DomainConfig, toDomainConfig } from '../config/domain-config.ts';
import { parseXlConfig, type XlSetting } from '../config/xl-cfg.ts';

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
 * `CONFIG` ToolstackError naming the file (or `<command line>`), the line and the key.
 */
export function loadDomainConfig(request: CreateRequest): DomainConfig {
  const file = parseXlConfig(request.text, request.source);
  const extra = parseXlConfig(request.overrides.join('\n'), '<command line>');
  const settings = new Map<string, XlSetting>(file.settings);
  for (const [k, v] of extra.settings) settings.set(k, v);
  const config = toDomainConfig({ source: request.source, settings });
  const out: { -readonly [K in keyof DomainConfig]: DomainConfig[K] } = { ...config };
  if (config.kernel !== undefined) out.kernel = absolute(config.kernel, request.cwd);
  if (config.ramdisk !== undefined) out.ramdisk = absolute(config.ramdisk, request.cwd);
  out.disks = config.disks.map(
    (d): DiskSpec => (d.target === '' ? d : { ...d, target: absolute(d.target, request.cwd) }),
  );
  return out;
}
