/**
 * Per-domain quotas with the defaults of Xen 4.17's C xenstored. They apply to
 * unprivileged (guest) connections only; dom0 is unlimited.
 *
 * @see tools/xenstored/domain.c, tools/xenstored/core.c (`quota_*`)
 * @module
 */

/** Quota settings; the names are those of `xenstore-control quota`. */
export interface XenstoreQuotas {
  /** Nodes a domain may own (`nodes`, ENOSPC beyond). */
  readonly nodes: number;
  /** Watches per domain (`watches`, E2BIG beyond). */
  readonly watches: number;
  /** Open transactions per domain (`transactions`, ENOSPC beyond). */
  readonly transactions: number;
  /** Outstanding requests per domain (`outstanding`). */
  readonly outstanding: number;
  /** Nodes one transaction may touch (`transaction-nodes`, ENOSPC beyond). */
  readonly transactionNodes: number;
  /**
   * Memory per domain in bytes (`memory`): node records and keys it owns, its watches,
   * its transactions' node copies and its queued output. A guest at or above it gets no
   * more requests read, node writes that would reach it fail and watch events for it
   * are dropped.
   */
  readonly memory: number;
  /** Memory per domain above which a warning is logged (`quota-soft` `memory`). */
  readonly memorySoft: number;
  /** Maximum size of one node record in bytes (`node-size`, ENOSPC beyond). */
  readonly nodeSize: number;
  /** Maximum path length below the domain's home (`path-max`). */
  readonly pathMax: number;
  /** Maximum number of permission entries per node (`permissions`, ENOSPC beyond). */
  readonly permissions: number;
}

/** Xen 4.17's defaults, as printed by `xenstore-control quota`. */
export const DEFAULT_QUOTAS: XenstoreQuotas = {
  nodes: 1000,
  watches: 128,
  transactions: 10,
  outstanding: 20,
  transactionNodes: 1024,
  memory: 2621440,
  memorySoft: 2097152,
  nodeSize: 2048,
  pathMax: 2048,
  permissions: 5,
};

const ROWS: readonly (readonly [keyof XenstoreQuotas, string, string])[] = [
  ['nodes', 'nodes', 'Nodes per domain'],
  ['watches', 'watches', 'Watches per domain'],
  ['transactions', 'transactions', 'Transactions per domain'],
  ['outstanding', 'outstanding', 'Outstanding requests per domain'],
  ['transactionNodes', 'transaction-nodes', 'Max. number of accessed nodes per transaction'],
  ['memory', 'memory', 'Total Xenstore memory per domain (error level)'],
  ['nodeSize', 'node-size', 'Max. size of a node'],
  ['pathMax', 'path-max', 'Max. length of a node path'],
  ['permissions', 'permissions', 'Max. number of permissions per node'],
];

const SOFT_ROWS: readonly (readonly [keyof XenstoreQuotas, string, string])[] = [
  ['memorySoft', 'memory', 'Total Xenstore memory per domain (warning level)'],
];

/**
 * The text of `CONTROL quota` (or, with `soft`, of `CONTROL quota-soft`), formatted as the
 * C daemon does.
 */
export function formatQuotas(q: XenstoreQuotas, soft = false): string {
  let s = 'Quota settings:\n';
  for (const [key, name, descr] of soft ? SOFT_ROWS : ROWS) {
    s += `${name.padEnd(17)}: ${String(q[key]).padStart(8)} ${descr}\n`;
  }
  return s;
}

/**
 * Looks up a quota by its `xenstore-control` name: a hard quota (`quota set`), or with
 * `soft` a soft one (`quota-soft set`).
 */
export function quotaKey(name: string, soft = false): keyof XenstoreQuotas | undefined {
  for (const [key, n] of soft ? SOFT_ROWS : ROWS) if (n === name) return key;
  return undefined;
}
