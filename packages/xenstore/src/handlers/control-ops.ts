/**
 * `XS_CONTROL` commands: `print`, `log`, `check`, `quota`, `quota-soft`, `help`.
 *
 * @see tools/xenstored/control.c
 * @module
 */
import { atoi, OK, strz } from '../internal/args.ts';
import { formatQuotas, quotaKey } from '../quota.ts';
import { splitStrings } from '../wire/codec.ts';
import type { HandlerResult, Request } from './request.ts';

// xenstored 4.17's command table, as `help` prints it (`live-update`, `logfile` and
// `memreport` are listed but answer EINVAL here, see DESIGN.md).
const HELP =
  'check\t\nlog\ton|off\nlive-update\t[-c <cmdline>] [-F] [-t <timeout>] <file>\n    Default timeout is 60 seconds.\nlogfile\t<file>\nmemreport\t[<file>]\nprint\t<string>\nquota\t[set <name> <val>|<domid>]\nquota-soft\t[set <name> <val>]\nhelp\t\n';

/** `quota_set()`: `<name> <val>` with `atoi(val) >= 1`, else EINVAL. */
function quotaSet(req: Request, args: readonly string[], soft: boolean): HandlerResult {
  if (args.length !== 2) return 'EINVAL';
  const v = atoi(args[1] as string);
  if (v < 1) return 'EINVAL';
  const key = quotaKey(args[0] as string, soft);
  if (key === undefined) return 'EINVAL';
  req.xs.quotas = { ...req.xs.quotas, [key]: v };
  return OK;
}

/** `XS_CONTROL`: `cmd\0args…\0`. */
export function doControl(req: Request): HandlerResult {
  const args = splitStrings(req.msg.payload);
  const cmd = args[0];
  const rest = args.slice(1);
  const xs = req.xs;
  switch (cmd) {
    case 'print':
      if (rest.length !== 1) return 'EINVAL';
      xs.log(`control: ${rest[0]}`);
      return OK;
    case 'log':
      if (rest.length !== 1 || (rest[0] !== 'on' && rest[0] !== 'off')) return 'EINVAL';
      xs.traceEnabled = rest[0] === 'on';
      return OK;
    case 'check':
      return rest.length === 0 ? OK : 'EINVAL';
    case 'help':
      return rest.length === 0 ? strz(HELP) : 'EINVAL';
    case 'quota': {
      if (rest.length === 0) return strz(formatQuotas(xs.quotas));
      if (rest[0] === 'set') return quotaSet(req, rest.slice(1), false);
      if (rest.length !== 1) return 'EINVAL';
      const report = xs.domainQuotaReport(atoi(rest[0] as string));
      return report === undefined ? 'ENOENT' : strz(report);
    }
    case 'quota-soft':
      if (rest.length === 0) return strz(formatQuotas(xs.quotas, true));
      if (rest[0] === 'set') return quotaSet(req, rest.slice(1), true);
      return 'EINVAL';
    default:
      return 'EINVAL';
  }
}
