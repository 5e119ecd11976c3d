/**
 * What the toolstack does when a guest shuts down, and xl's cooperative suspend protocol.
 *
 * - After a guest shut itself down, the configured action for its reason is applied as xl's
 *   `handle_domain_death` does: `on_poweroff`, `on_reboot`, `on_crash` (destroy, restart,
 *   rename-restart, preserve, coredump-destroy/-restart); a domain that has *suspended* is left
 *   alone (xl logs "Domain has suspended." and does nothing: whoever asked for the suspend — a
 *   save or a migration — goes on with it); watchdog and unknown reasons destroy it.
 * - Before a save or migration, a guest that supports it is asked to suspend itself, as libxl's
 *   `domain_suspend_callback_common` does for PV guests: through its suspend event channel when
 *   it wrote one to `device/suspend/event-channel`, otherwise by writing `suspend` to its
 *   `control/shutdown` node and waiting for the guest to acknowledge (the node no longer reads
 *   `suspend`) and then to shut down with `SHUTDOWN_suspend`, each within a timeout (libxl: 60 s).
 *   A guest that never acknowledges has the request withdrawn ("guest didn't acknowledge
 *   suspend, cancelling request") and goes on untouched.
 * - A suspended guest whose save is cancelled (`xl save -c`, or a migration that failed) is
 *   resumed in place with libxc's fast resume: its suspend hypercall returns 1.
 *
 * Deliberate difference from xl: libxl asks every PV guest to suspend (it cannot tell whether
 * one will answer). Here only a guest that advertises it — `control/feature-suspend` = 1, as
 * Linux writes, or a suspend event channel — is asked; any other guest (PV GRUB, which has no PV
 * control interface) is paused and saved as it stands, where xl would time out after 60 s and
 * fail the save.
 *
 * @see tools/xl/xl_vmcontrol.c (handle_domain_death, preserve_domain)
 * @see tools/libs/light/libxl_dom_suspend.c (domain_suspend_callback_common and its callbacks)
 * @see tools/libs/guest/xg_resume.c (xc_domain_resume, modify_returncode)
 * @module
 */
import {
  isSuspended,
  RESUME_HOW,
  resumeSuspendedDomain,
  SHUTDOWN_crash,
  SHUTDOWN_poweroff,
  SHUTDOWN_reboot,
  SHUTDOWN_suspend,
  type SuspendableVcpu,
} from '@typevisor/hypervisor';
import type { LifecycleAction } from '../config/domain-config.ts';
import { ToolstackError } from '../errors.ts';
import type { Host, HostDomain } from './host.ts';

/** libxl's time for a guest to acknowledge a suspend request, and then to suspend (ms). */
export const SUSPEND_TIMEOUT_MS = 60_000;

/** What {@link applyLifecycle} needs of the host. */
export interface LifecycleContext {
  /** The host the domain is on. */
  readonly host: Host;
  /** The host's log. */
  readonly log: (line: string) => void;
}

/**
 * The action for the reason domain `d` shut down with, as xl chooses it: its `on_poweroff`,
 * `on_reboot` or `on_crash`; `destroy` for a watchdog or an unknown reason (no `on_watchdog`
 * here: xl's default is destroy); `undefined` for a domain that has suspended (no action).
 */
export function shutdownAction(d: HostDomain): LifecycleAction | undefined {
  switch (d.shutdownReason) {
    case SHUTDOWN_poweroff:
      return d.config.onPoweroff;
    case SHUTDOWN_reboot:
      return d.config.onReboot;
    case SHUTDOWN_crash:
      return d.config.onCrash;
    case SHUTDOWN_suspend:
      return undefined;
    default:
      return 'destroy';
  }
}

/**
 * xl's suffix for a domain kept by `rename-restart`: `-YYYYMMDDTHHMMZ` (UTC), from
 * `preserve_domain`.
 */
export function preserveSuffix(now: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `-${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}T${p(now.getUTCHours())}${p(now.getUTCMinutes())}Z`;
}

/**
 * Applies the configured action after guest `d` shut itself down, then tells the host's
 * `onShutdown` listener. `restart` destroys the domain and creates a new one from the same
 * configuration (under its current name); `rename-restart` keeps the old one, shut down, renamed
 * with xl's time suffix, and creates the new one under the name (with a new UUID: xl gives the
 * kept one the new UUID instead); `preserve` (and a suspended domain) leaves it as it is until
 * `xl destroy`. A restart that fails is logged.
 */
export async function applyLifecycle(ctx: LifecycleContext, d: HostDomain): Promise<void> {
  const { host, log } = ctx;
  const action = shutdownAction(d);
  if (action === undefined) {
    log(`dom${d.domid} (${d.name}) has suspended`);
    host.onShutdown?.(d, 'preserve');
    return;
  }
  const crash = d.vcpus.find((v) => v.vcpu.crash !== null)?.vcpu.crash ?? null;
  if (d.shutdownReason === SHUTDOWN_crash && crash !== null) {
    log(`dom${d.domid} (${d.name}) crashed: ${crash.message}`);
  }
  let todo = action;
  if (todo === 'coredump-destroy' || todo === 'coredump-restart') {
    log(`dom${d.domid} (${d.name}): core dumps are not written here; ${todo.slice(9)} only`);
    todo = todo === 'coredump-destroy' ? 'destroy' : 'restart';
  }
  const config = { ...d.config, name: d.name };
  if (todo === 'destroy') await host.destroyDomain(d.domid);
  else if (todo === 'restart') {
    await host.destroyDomain(d.domid);
    await restart(ctx, config);
  } else if (todo === 'rename-restart') {
    const kept = `${d.name}${preserveSuffix(new Date())}`;
    log(`Preserving domain ${d.domid} ${d.name} with suffix${kept.slice(d.name.length)}`);
    await renameDomain(host, d, kept);
    // Two domains must not share a UUID (nor /vm/<uuid>). xl gives the preserved one a new
    // UUID; here the kept domain keeps its own and the new one is given a fresh one.
    const { uuid: _taken, ...fresh } = config;
    await restart(ctx, fresh);
  }
  // preserve (and soft-reset, which this host does not do): the domain stays, shut down.
  host.onShutdown?.(d, action);
}

async function restart(ctx: LifecycleContext, config: HostDomain['config']): Promise<void> {
  try {
    await ctx.host.createDomain(config);
  } catch (err) {
    ctx.log(`${config.name}: restart failed: ${(err as Error).message}`);
  }
}

/** Renames a domain in the host and in xenstore (`/local/domain/N/name`, `/vm/UUID/name`). */
async function renameDomain(host: Host, d: HostDomain, name: string): Promise<void> {
  d.name = name;
  await host.xs.write(`/local/domain/${d.domid}/name`, name).catch(() => undefined);
  await host.xs.write(`/vm/${d.uuid}/name`, name).catch(() => undefined);
}

/** What a suspend request needs: the host, and whether its run loop is running elsewhere. */
export interface SuspendContext {
  /** The host the domain is on. */
  readonly host: Host;
  /** Whether {@link Host.run} is running (a daemon's loop); if not, waiting runs it here. */
  running(): boolean;
}

/** How a guest can be asked to suspend. */
export type SuspendMethod =
  | { readonly kind: 'evtchn'; readonly port: number }
  | { readonly kind: 'xenbus' }
  | { readonly kind: 'none' };

/**
 * How guest `d` can be asked to suspend: its suspend event channel (a port it wrote to
 * `device/suspend/event-channel`), the `control/shutdown` node when it wrote
 * `control/feature-suspend` = 1, or not at all.
 */
export async function suspendMethod(host: Host, d: HostDomain): Promise<SuspendMethod> {
  const dp = `/local/domain/${d.domid}`;
  const read = (p: string): Promise<string> => host.xs.readString(p).catch(() => '');
  const port = (await read(`${dp}/device/suspend/event-channel`)).trim();
  if (/^\d+$/.test(port)) return { kind: 'evtchn', port: Number(port) };
  if ((await read(`${dp}/control/feature-suspend`)).trim() === '1') return { kind: 'xenbus' };
  return { kind: 'none' };
}

/**
 * Waits until `cond` holds or `timeoutMs` pass, letting the guests run meanwhile (the host's own
 * loop when it is running, else short {@link Host.run}s here). Returns whether `cond` held.
 */
async function waitFor(
  ctx: SuspendContext,
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    const left = end - performance.now();
    if (left <= 0) return false;
    if (ctx.running()) await new Promise<void>((r) => setTimeout(r, Math.min(5, left)));
    else await ctx.host.run({ timeoutMs: Math.min(20, left), stopWhenIdle: false });
  }
}

/**
 * Asks guest `d` to suspend itself and waits until it has (shut down with `SHUTDOWN_suspend`),
 * as libxl does before a save. Returns false, doing nothing, for a guest that does not support
 * it or is paused (it could not answer); such a guest is saved paused. Throws a `STATE`
 * {@link ToolstackError} with libxl's message when the guest does not acknowledge in time (the
 * request is withdrawn and the guest goes on), does not suspend in time, or shuts down for
 * another reason.
 */
export async function suspendGuest(
  ctx: SuspendContext,
  d: HostDomain,
  timeoutMs: number = ctx.host.suspendTimeoutMs,
): Promise<boolean> {
  if (d.paused || d.shutdownReason >= 0) return false;
  const host = ctx.host;
  const method = await suspendMethod(host, d);
  if (method.kind === 'none') return false;
  const name = `dom${d.domid} (${d.name})`;
  const gone = (): boolean => host.domains.get(d.domid) !== d;
  if (method.kind === 'evtchn') {
    const local = host.dom0Events.bindInterdomain(d.domid, method.port);
    if (local < 0) {
      throw new ToolstackError('STATE', `${name}: Suspend event channel initialization failed`);
    }
    try {
      host.dom0Events.notify(local);
      await waitForSuspend(ctx, d, name, gone, timeoutMs);
    } finally {
      if (!gone()) host.dom0Events.close(local);
    }
    return true;
  }
  const node = `/local/domain/${d.domid}/control/shutdown`;
  await host.xs.write(node, 'suspend');
  const acked = async (): Promise<boolean> =>
    gone() || (await host.xs.readString(node).catch(() => '')) !== 'suspend';
  if (!(await waitFor(ctx, acked, timeoutMs))) {
    // Withdraw the request, unless the guest acknowledged it at the last moment.
    const withdrawn = await host.xs.transaction(async (tx) => {
      if ((await tx.readString(node).catch(() => '')) !== 'suspend') return false;
      await tx.write(node, '');
      return true;
    });
    if (withdrawn) {
      throw new ToolstackError(
        'STATE',
        `${name}: guest didn't acknowledge suspend, cancelling request`,
      );
    }
  }
  await waitForSuspend(ctx, d, name, gone, timeoutMs);
  return true;
}

async function waitForSuspend(
  ctx: SuspendContext,
  d: HostDomain,
  name: string,
  gone: () => boolean,
  timeoutMs: number,
): Promise<void> {
  const done = await waitFor(ctx, () => gone() || d.shutdownReason >= 0, timeoutMs);
  if (gone())
    throw new ToolstackError('STATE', `${name}: guest we were suspending has been destroyed`);
  if (!done) throw new ToolstackError('STATE', `${name}: guest did not suspend, timed out`);
  if (d.shutdownReason !== SHUTDOWN_suspend) {
    throw new ToolstackError(
      'STATE',
      `${name}: guest we were suspending has shut down with unexpected reason code ${d.shutdownReason}`,
    );
  }
}

/** The vCPUs of `d` as the hypervisor's resume sees them (vCPU 0 first). */
function suspendable(d: HostDomain): SuspendableVcpu[] {
  return d.vcpus.map((v) => v.vcpu);
}

/**
 * Resumes suspended guest `d` in place, as `xc_domain_resume(fast)` and
 * `XEN_DOMCTL_resumedomain` do: its suspend hypercall returns 1 ("cancelled"), it is no longer
 * shut down and is scheduled again (unless the toolstack has it paused). Returns 0, or
 * `-XEN_EINVAL` (-22) when it has not suspended.
 */
export function resumeSuspended(host: Host, d: HostDomain): number {
  const rc = resumeSuspendedDomain(suspendable(d), RESUME_HOW.CANCELLED);
  if (rc !== 0) return rc;
  d.shutdownReason = -1;
  // The pause domain_shutdown took (Host.endSlice) goes; the toolstack's own pause stays.
  if (host.scheduler.hasDomain(d.domid)) host.scheduler.unpauseDomain(d.domid);
  return 0;
}

/**
 * A domain restored from the image of a suspended guest starts in a new domain: none of its
 * vCPUs is shut down, and the guest's suspend hypercall returns 0 (what the saved context
 * holds), so it reconnects from start_info. Does nothing for a guest saved while running.
 */
export function resumeInNewDomain(vcpus: readonly SuspendableVcpu[]): void {
  if (isSuspended(vcpus)) resumeSuspendedDomain(vcpus, RESUME_HOW.NEW_DOMAIN);
}

/**
 * Points a restored domain's start_info (a copy of the page, `is32` for the compat layout) at
 * its new shared_info frame, as libxc's `process_start_info` does on every restore: a guest that
 * resumes in a new domain maps shared_info again from there. Does nothing to a page that no
 * longer holds start_info (it starts with the `xen-3.0-` magic).
 * @see tools/libs/guest/xg_sr_restore_x86_pv.c (process_start_info)
 */
export function localiseStartInfo(page: Uint8Array, is32: boolean, sharedInfoMa: number): void {
  const magic = 'xen-3.0-';
  for (let i = 0; i < magic.length; i++) if (page[i] !== magic.charCodeAt(i)) return;
  const dv = new DataView(page.buffer, page.byteOffset, 4096);
  // start_info.shared_info: a machine address after nr_pages (u32 at 36, or u64 at 40).
  if (is32) dv.setUint32(36, sharedInfoMa >>> 0, true);
  else dv.setBigUint64(40, BigInt(sharedInfoMa), true);
}
