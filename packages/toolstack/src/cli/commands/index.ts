/**
 * The `typevisor` command table. Every verb lives in its own file and is listed here once,
 * in the order `typevisor --help` shows them.
 */
import type { CommandSpec } from '../command.ts';
import { bare } from './bare.ts';
import { info } from './info.ts';
import { xenstore } from './xenstore.ts';
import { xenstored } from './xenstored.ts';

/** All `typevisor` subcommands. */
export const COMMANDS: readonly CommandSpec[] = [info, xenstored, xenstore, bare];
