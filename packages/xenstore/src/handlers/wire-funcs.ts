/**
 * The message table, like xenstored's `wire_funcs[XS_TYPE_COUNT]`: type → handler and
 * flags. `Xenstore.handle()` validates centrally against it (unknown type → ENOSYS,
 * unprivileged → EACCES, unknown transaction → ENOENT) before calling a handler.
 *
 * @see tools/xenstored/core.c (`wire_funcs`, `process_message`)
 * @module
 */
import { XS_TYPE_COUNT, XsType } from '../wire/constants.ts';
import { doControl } from './control-ops.ts';
import {
  doGetDomainPath,
  doIntroduce,
  doIsDomainIntroduced,
  doRelease,
  doResume,
  doSetTarget,
} from './domain-ops.ts';
import {
  doDirectory,
  doDirectoryPart,
  doGetPerms,
  doMkdir,
  doRead,
  doRm,
  doSetPerms,
  doWrite,
} from './node-ops.ts';
import { type WireFunc, XS_FLAG_NOTID, XS_FLAG_PRIV } from './request.ts';
import {
  doResetWatches,
  doTransactionEnd,
  doTransactionStart,
  doUnwatch,
  doWatch,
} from './session-ops.ts';

/** Handlers indexed by message type; `undefined` rows answer ENOSYS. */
export const WIRE_FUNCS: readonly (WireFunc | undefined)[] = (() => {
  const t: (WireFunc | undefined)[] = new Array(XS_TYPE_COUNT).fill(undefined);
  const row = (type: number, name: string, fn: WireFunc['fn'], flags = 0): void => {
    t[type] = { name, fn, flags };
  };
  row(XsType.XS_CONTROL, 'CONTROL', doControl, XS_FLAG_PRIV);
  row(XsType.XS_DIRECTORY, 'DIRECTORY', doDirectory);
  row(XsType.XS_READ, 'READ', doRead);
  row(XsType.XS_GET_PERMS, 'GET_PERMS', doGetPerms);
  row(XsType.XS_WATCH, 'WATCH', doWatch, XS_FLAG_NOTID);
  row(XsType.XS_UNWATCH, 'UNWATCH', doUnwatch, XS_FLAG_NOTID);
  row(XsType.XS_TRANSACTION_START, 'TRANSACTION_START', doTransactionStart);
  row(XsType.XS_TRANSACTION_END, 'TRANSACTION_END', doTransactionEnd);
  row(XsType.XS_INTRODUCE, 'INTRODUCE', doIntroduce, XS_FLAG_PRIV);
  row(XsType.XS_RELEASE, 'RELEASE', doRelease, XS_FLAG_PRIV);
  row(XsType.XS_GET_DOMAIN_PATH, 'GET_DOMAIN_PATH', doGetDomainPath);
  row(XsType.XS_WRITE, 'WRITE', doWrite);
  row(XsType.XS_MKDIR, 'MKDIR', doMkdir);
  row(XsType.XS_RM, 'RM', doRm);
  row(XsType.XS_SET_PERMS, 'SET_PERMS', doSetPerms);
  row(XsType.XS_IS_DOMAIN_INTRODUCED, 'IS_DOMAIN_INTRODUCED', doIsDomainIntroduced, XS_FLAG_PRIV);
  row(XsType.XS_RESUME, 'RESUME', doResume, XS_FLAG_PRIV);
  row(XsType.XS_SET_TARGET, 'SET_TARGET', doSetTarget, XS_FLAG_PRIV);
  row(XsType.XS_RESET_WATCHES, 'RESET_WATCHES', doResetWatches);
  row(XsType.XS_DIRECTORY_PART, 'DIRECTORY_PART', doDirectoryPart);
  return t;
})();
