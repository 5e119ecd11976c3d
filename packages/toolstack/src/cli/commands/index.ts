/**
 * The `typevisor` command table. Every verb lives in its own file and is listed here once,
 * in the order `typevisor --help` shows them.
 */
import type { CommandSpec } from '../command.ts';
import { bare } from './bare.ts';
import { blockAttach, blockDetach } from './block-attach.ts';
import { blockList } from './block-list.ts';
import { consoleVerb } from './console.ts';
import { create } from './create.ts';
import { daemon } from './daemon.ts';
import { destroy } from './destroy.ts';
import { dmesg } from './dmesg.ts';
import { domid, domname, rename } from './domid.ts';
import { info } from './info.ts';
import { list } from './list.ts';
import { memMax, memSet } from './mem-set.ts';
import { migrate } from './migrate.ts';
import { migrateReceive } from './migrate-receive.ts';
import { networkAttach, networkDetach, networkList } from './network-attach.ts';
import { pause, unpause } from './pause.ts';
import { restore } from './restore.ts';
import { save } from './save.ts';
import { schedCredit } from './sched-credit.ts';
import { schedSedf } from './sched-sedf.ts';
import { reboot, shutdown } from './shutdown.ts';
import { top } from './top.ts';
import { uptime } from './uptime.ts';
import { vcpuList } from './vcpu-list.ts';
import { vcpuPin } from './vcpu-pin.ts';
import { vcpuSet } from './vcpu-set.ts';
import { xenstore } from './xenstore.ts';
import { xenstored } from './xenstored.ts';

/** All `typevisor` subcommands. */
export const COMMANDS: readonly CommandSpec[] = [
  create,
  list,
  destroy,
  shutdown,
  reboot,
  pause,
  unpause,
  consoleVerb,
  save,
  restore,
  migrate,
  migrateReceive,
  domid,
  domname,
  rename,
  uptime,
  dmesg,
  info,
  vcpuList,
  vcpuSet,
  vcpuPin,
  blockAttach,
  blockDetach,
  blockList,
  networkAttach,
  networkDetach,
  networkList,
  memSet,
  memMax,
  schedCredit,
  schedSedf,
  top,
  daemon,
  xenstored,
  xenstore,
  bare,
];
