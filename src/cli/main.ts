#!/usr/bin/env node
/** The `hashwarden` executable: runs the CLI on process.argv and exits with its status. */
import { runCli } from './run.js';

const status = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTTY: process.stdout.isTTY === true,
  errIsTTY: process.stderr.isTTY === true,
});
process.exitCode = status;
