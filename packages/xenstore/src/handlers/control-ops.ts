/**
 * `XS_CONTROL` commands: `print`, `log`, `quota`, `help`.
 *
 * @see tools/xenstored/control.c
 * @module
 */
import { atoi, OK, strz } from '../internal/args.ts';
import { formatQuotas, quotaKey } from '../quota.ts';
import { splitStrings } from '../wire/codec.ts';
import type { HandlerResult, Request } from './request.ts';

const HELP =
  'check\t\nlog\ton|off\nlogfile\t<file>\nmemreport\t[<file>]\nprint\t<string>\nquota\t[set <name> <val>|<domid>]\nhelp\t\n';

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
      if (rest[0] === 'set') {
        if (rest.length !== 3) return 'EINVAL';
        const key = quotaKey(rest[1] as string);
        if (key === undefined) return 'EINVAL';
        const v = atoi(rest[2] as string);
        xs.quotas = { ...xs.quotas, [key]: v };
        return OK;
      }
      if (rest.length !== 1) return 'EINVAL';
      const domid = atoi(rest[0] as string);
      if (!xs.domains.has(domid)) return 'ENOENT';
      return strz(xs.domainQuotaReport(domid));
    }
    default:
      return 'EINVAL';
  }
}
