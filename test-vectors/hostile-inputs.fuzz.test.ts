/**
 * Fuzz test of the hostile-inputs corpus for lists, stores and snapshots (docs/fuzzing.md): the
 * small files of the corpus (test-vectors/hostile-lists.ts: every case but the heavy ones) are
 * damaged — bit flips, truncations, deletions, repeats, insertions (src/testing/mutate.ts), and
 * splices of two files of the same kind — and opened as their case opens them. Each time the
 * outcome must be a result or a `HashwardenError`, never anything else thrown; and an import
 * into the seeded store that is refused must leave every list as it was (one transaction).
 * `npm run fuzz` runs it with a much larger budget.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzParameters, fuzzTestTimeout } from '../src/testing/fuzz.js';
import { runCase } from './hostile-lists/run.js';
import { applyMutations, type Mutation, mutation } from '../src/testing/mutate.js';
import { generate, type HostileCase, SEEDED } from './hostile-lists.js';

let dir: string;
let scratch: string;
let cases: readonly HostileCase[];
const bytesOf = new Map<string, Uint8Array>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-fuzz-'));
  scratch = await mkdtemp(join(tmpdir(), 'hostile-fuzz-runs-'));
  ({ cases } = await generate(dir, (c) => c.heavy !== true));
  for (const c of cases)
    if (!bytesOf.has(c.file)) bytesOf.set(c.file, new Uint8Array(await readFile(join(dir, c.file))));
}, 60_000);

afterAll(async () => {
  for (const d of [dir, scratch]) if (d !== undefined) await rm(d, { recursive: true, force: true });
});

/** A damaged file: a case's file with edits, or the front of it spliced onto the back of another of its kind. */
interface Damage {
  readonly pick: number;
  readonly edits: readonly Mutation[];
  readonly splice?: { readonly other: number; readonly cut: number; readonly from: number };
}

function damage(): fc.Arbitrary<Damage> {
  return fc.record(
    {
      pick: fc.nat(),
      edits: fc.array(mutation(), { maxLength: 4 }),
      splice: fc.record({ other: fc.nat(), cut: fc.nat(), from: fc.nat() }),
    },
    { requiredKeys: ['pick', 'edits'] },
  );
}

let runs = 0;

/** Opens the damaged file as its case says, in a folder of its own; checks the outcome is typed. */
async function check(kind: HostileCase['kind'], d: Damage): Promise<void> {
  const ofKind = cases.filter((c) => c.kind === kind);
  const c = ofKind[d.pick % ofKind.length] as HostileCase;
  let bytes = bytesOf.get(c.file) as Uint8Array;
  if (d.splice !== undefined) {
    const other = bytesOf.get((ofKind[d.splice.other % ofKind.length] as HostileCase).file) as Uint8Array;
    const front = bytes.subarray(0, d.splice.cut % (bytes.length + 1));
    const back = other.subarray(d.splice.from % (other.length + 1));
    bytes = new Uint8Array([...front, ...back]);
  }
  bytes = applyMutations(bytes, d.edits);
  const run = join(scratch, `run-${++runs}`);
  await rm(run, { recursive: true, force: true });
  await mkdir(run);
  try {
    await writeFile(join(run, c.file), bytes);
    if (c.open.import !== undefined) await copyFile(join(dir, c.open.import), join(run, c.open.import));
    const outcome = await runCase(run, c);
    expect('untyped' in outcome ? outcome : 'typed', c.case).toBe('typed');
    if (c.kind === 'list' && c.open.call === 'importFile' && 'code' in outcome)
      expect(outcome.lists, `${c.case}: a refused import changed the store`).toEqual(SEEDED);
  } finally {
    await rm(run, { recursive: true, force: true });
  }
}

describe('damaged files of the hostile-inputs corpus', () => {
  const property = (kind: HostileCase['kind'], ciRuns: number) =>
    it(
      `${kind}s: a result or a HashwardenError, and a refused import changes nothing`,
      async () => {
        await fc.assert(
          fc.asyncProperty(damage(), (d) => check(kind, d)),
          fuzzParameters(ciRuns),
        );
      },
      fuzzTestTimeout() ?? 60_000,
    );
  property('list', 60);
  property('store', 30);
  property('snapshot', 60);
});
