/**
 * Runs one case of the hostile-inputs corpus in this process and prints one line of JSON: its
 * outcome and this process's peak resident memory. Started by `runCaseInChild`
 * (test-vectors/hostile-lists/run.ts) as `node --import tsx test-vectors/hostile-lists-case.ts DIR CASE`,
 * where DIR holds the generated files and their manifest.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCase } from './hostile-lists/run.js';
import type { HostileListsManifest } from './hostile-lists.js';

const [dir, name] = process.argv.slice(2) as [string, string];
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as HostileListsManifest;
const found = manifest.cases.find((c) => c.case === name);
if (found === undefined) throw new Error(`no case ${name} in ${dir}`);
const outcome = await runCase(dir, found);
console.log(JSON.stringify({ outcome, maxRssKiB: process.resourceUsage().maxRSS }));
