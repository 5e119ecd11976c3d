/**
 * Handlers for domain management: INTRODUCE, RELEASE, IS_DOMAIN_INTRODUCED,
 * GET_DOMAIN_PATH, RESUME and SET_TARGET.
 *
 * @see tools/xenstored/domain.c
 * @module
 */
import { atoi, firstArg, OK, strz } from '../internal/args.ts';
import { domainPath } from '../path.ts';
import { splitStrings } from '../wire/codec.ts';
import type { HandlerResult, Request } from './request.ts';

/** `XS_INTRODUCE`: `domid\0mfn\0port\0` (dom0 only); fires `@introduceDomain` for new domains. */
export function doIntroduce(req: Request): HandlerResult {
  const args = splitStrings(req.msg.payload);
  if (args.length !== 3) return 'EINVAL';
  const domid = atoi(args[0] as string);
  const mfn = Number(BigInt.asUintN(64, BigInt(/^\s*\d+/.exec(args[1] as string)?.[0] ?? '0')));
  const port = atoi(args[2] as string);
  // xenstored's only sanity check of the arguments.
  if (port === 0) return 'EINVAL';
  req.xs.introduceDomain(domid, mfn, port);
  return OK;
}

/** `XS_RELEASE`: `domid\0`; forgets the domain and fires `@releaseDomain`. */
export function doRelease(req: Request): HandlerResult {
  const domid = atoi(firstArg(req.msg.payload));
  if (domid === 0) return 'EINVAL';
  return req.xs.releaseDomain(domid) ? OK : 'ENOENT';
}

/** `XS_IS_DOMAIN_INTRODUCED`: `domid\0` → `T\0` or `F\0`. */
export function doIsDomainIntroduced(req: Request): HandlerResult {
  const domid = atoi(firstArg(req.msg.payload));
  return strz(req.xs.domains.has(domid) ? 'T' : 'F');
}

/** `XS_GET_DOMAIN_PATH`: `domid\0` → `/local/domain/<domid>\0`. */
export function doGetDomainPath(req: Request): HandlerResult {
  // xenstored prints the domid with %u.
  return strz(domainPath(atoi(firstArg(req.msg.payload)) >>> 0));
}

/** `XS_RESUME`: `domid\0`; clears the domain's shutdown state. */
export function doResume(req: Request): HandlerResult {
  const d = req.xs.domains.get(atoi(firstArg(req.msg.payload)));
  if (d === undefined) return 'ENOENT';
  d.shutdown = false;
  return OK;
}

/** `XS_SET_TARGET`: `domid\0target\0`; lets `domid` act with `target`'s rights. */
export function doSetTarget(req: Request): HandlerResult {
  const args = splitStrings(req.msg.payload);
  if (args.length !== 2) return 'EINVAL';
  const domid = atoi(args[0] as string);
  const target = atoi(args[1] as string);
  const d = req.xs.domains.get(domid);
  if (d === undefined || !req.xs.domains.has(target)) return 'ENOENT';
  d.target = target;
  for (const c of req.xs.connections) if (c.domid === domid) c.target = target;
  return OK;
}
