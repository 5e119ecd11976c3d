#!/usr/bin/env node
/**
 * The `typevisor` executable.
 * @module
 */
import { runCli } from './cli/main.ts';

const status = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = status;
