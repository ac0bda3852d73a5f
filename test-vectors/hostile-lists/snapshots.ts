/**
 * The snapshots of the hostile-inputs corpus: truncations and bit flips of a real snapshot, a
 * forged count, and sparse files whose section table declares gigabytes (finding 7). Sections are
 * laid out as writeSnapshot lays them out, with every checksum a reader checks first made valid.
 */
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as entries from '../../src/lists/entry.js';
import { KIND, NO_ALGORITHM } from '../../src/snapshot/format.js';
import { writeSnapshot } from '../../src/snapshot/write.js';
import { mulberry32 } from '../../src/testing/prng.js';
import { assemble, disassemble, type LaidSection as Section, viewOf } from '../../src/testing/snapshot-layout.js';
import { type Draft, type HostileCase, hex, type OpenSpec, SEED, utf8 } from './common.js';

/** `sections` with META's JSON rewritten by `edit`. */
function withMeta(
  sections: readonly Section[],
  edit: (meta: { algorithms: { name: string; count: number }[] }) => void,
): Section[] {
  return sections.map((s) => {
    if (s.kind !== KIND.META) return s;
    const meta = JSON.parse(Buffer.from(s.data).toString('utf8'));
    edit(meta);
    return { ...s, data: utf8(JSON.stringify(meta)) };
  });
}

/** Entries of the clean snapshot: perceptual and exact, with labels and metadata (every kind of section). */
function snapshotEntries() {
  const next = mulberry32(SEED + 2);
  const bits = (n: number) => Array.from({ length: n / 4 }, () => Math.floor(next() * 16).toString(16)).join('');
  const entries = [];
  for (let i = 0; i < 4; i++) {
    for (const [algorithm, length] of [
      ['blockhash', 256],
      ['pdq', 256],
    ] as const)
      entries.push({
        id: `${algorithm}-${i}`,
        list: 'L1',
        algorithm,
        hash: bits(length),
        label: 'csam',
        metadata: { n: i },
      });
    entries.push({
      id: `md5-${i}`,
      list: 'vendorA',
      algorithm: 'md5',
      hash: hex('md5', `s-${i}`),
      metadata: { source: 'feed' },
    });
  }
  return entries;
}

/** The index of `algorithm` in META (sections name algorithms by it). */
const algorithmIndex = (sections: readonly Section[], name: string): number => {
  const meta = JSON.parse(Buffer.from((sections.find((s) => s.kind === KIND.META) as Section).data).toString('utf8'));
  return (meta.algorithms as { name: string }[]).findIndex((a) => a.name === name);
};

async function cleanSnapshot(scratch: string): Promise<Section[]> {
  const path = join(scratch, 'clean.snap');
  await writeSnapshot(path, {
    lists: [
      { name: 'L1', version: 1 },
      { name: 'vendorA', version: 1 },
    ],
    entries: snapshotEntries().map((e) => entries.normalizeEntry(e)),
    sequence: 1,
  });
  // A fixed creation time and sequence, and no source: the same bytes on every run.
  return withMeta(disassemble(await readFile(path)), (meta) => {
    (meta as { created?: string }).created = '2026-12-06T00:00:00.000Z';
    delete (meta as { source?: string }).source;
  });
}

const GIB = 1024 ** 3;

export async function snapshotFiles(drafts: Draft[], cases: HostileCase[], scratch: string): Promise<void> {
  const clean = await cleanSnapshot(scratch);
  const cleanFile = assemble(clean).bytes;
  const add = (c: Omit<HostileCase, 'kind'>): void => {
    cases.push({ kind: 'snapshot', ...c });
  };
  const read: OpenSpec = { call: 'readSnapshot' };
  const sparse = (file: string, sections: Section[], size = 0): void => {
    drafts.push({
      file,
      record: true,
      sparse: true,
      data: async (path) => {
        const laid = assemble(sections, size);
        await writeFile(path, laid.bytes);
        await truncate(path, laid.size);
        return laid.size;
      },
    });
  };
  drafts.push({ file: 'snapshot-clean.snap', record: true, data: cleanFile });
  add({
    case: 'snapshot-clean',
    file: 'snapshot-clean.snap',
    what: 'a snapshot written by writeSnapshot: 4 blockhash, 4 PDQ (with labels and metadata) and 4 md5 entries',
    open: { call: 'Matcher.open' },
    expect: { ok: { entries: 12 } },
    reason: 'The baseline the forged ones are made from: loads whole.',
    finding: 7,
  });
  const view = viewOf(cleanFile);
  const firstSection = Number(view.getBigUint64(64 + 16, true));
  for (const [name, at] of [
    ['in-header', 40],
    ['in-table', 64 + 40],
    ['in-meta', firstSection + 10],
    ['last-byte', cleanFile.length - 1],
  ] as const) {
    drafts.push({ file: `snapshot-cut-${name}.snap`, record: true, data: cleanFile.slice(0, at) });
    add({
      case: `snapshot-cut-${name}`,
      file: `snapshot-cut-${name}.snap`,
      what: `the clean snapshot cut to its first ${at} bytes (${name.replace(/-/g, ' ')})`,
      open: read,
      expect: { error: 'ERR_SNAPSHOT_TRUNCATED' },
      reason: 'A copy cut in transfer is refused whole, as truncated, never served in part.',
      finding: 'held',
    });
  }
  for (const [name, at, code] of [
    ['magic', 1, 'ERR_SNAPSHOT_FORMAT'],
    ['version', 8, 'ERR_SNAPSHOT_VERSION'],
    ['section-count', 12, 'ERR_SNAPSHOT_CORRUPT'],
    ['table', 64 + 20, 'ERR_SNAPSHOT_CORRUPT'],
    ['meta', firstSection + 3, 'ERR_SNAPSHOT_CORRUPT'],
    ['last-section', cleanFile.length - 1, 'ERR_SNAPSHOT_CORRUPT'],
  ] as const) {
    const flipped = cleanFile.slice();
    flipped[at] = (flipped[at] as number) ^ 0x10;
    drafts.push({ file: `snapshot-flip-${name}.snap`, record: true, data: flipped });
    add({
      case: `snapshot-flip-${name}`,
      file: `snapshot-flip-${name}.snap`,
      what: `the clean snapshot with bit 4 of byte ${at} flipped (${name.replace(/-/g, ' ')})`,
      open: read,
      expect: { error: code },
      reason: 'Every byte is covered by a check: a flipped bit is a typed refusal of the whole file.',
      finding: 'held',
    });
  }
  drafts.push({
    file: 'snapshot-count-2-40.snap',
    record: true,
    data: assemble(
      withMeta(clean, (meta) => {
        for (const a of meta.algorithms) if (a.name === 'pdq') a.count = 2 ** 40;
      }),
    ).bytes,
  });
  add({
    case: 'snapshot-count-2-40',
    file: 'snapshot-count-2-40.snap',
    what: 'the clean snapshot with META declaring 2^40 PDQ entries (every checksum valid)',
    open: read,
    expect: { error: 'ERR_SNAPSHOT_FORMAT' },
    reason: 'A count no file can hold is refused from META, before anything is allocated for it.',
    finding: 'held',
  });
  const anyCode = ['ERR_SNAPSHOT_FORMAT', 'ERR_SNAPSHOT_TRUNCATED', 'ERR_SNAPSHOT_CORRUPT'] as const;
  const blockhash = algorithmIndex(clean, 'blockhash');
  const stringKinds: number[] = [KIND.ENTRY_ID_BYTES, KIND.ENTRY_LABEL_BYTES, KIND.ENTRY_METADATA_BYTES];
  const declared = 3.5 * GIB;
  sparse('snapshot-three-3.5gib-strings.snap', [
    ...clean.filter((s) => !(s.algorithm === blockhash && stringKinds.includes(s.kind))),
    ...clean
      .filter((s) => s.algorithm === blockhash && stringKinds.includes(s.kind))
      .map((s) => ({ ...s, data: new Uint8Array(0), declared })),
  ]);
  add({
    case: 'snapshot-three-3.5gib-strings',
    file: 'snapshot-three-3.5gib-strings.snap',
    what: "the finding's sparse snapshot: under 3 KB of data, its blockhash id, label and metadata string sections each declared 3.5 GiB (a 10.5 GiB file of holes), header and table checksums valid",
    open: { call: 'Matcher.open' },
    expect: { error: anyCode },
    reason:
      'Four blockhash entries cannot have 3.5 GiB of ids: bounded by the META counts before allocation (it reached 8.4 GB RSS before ERR_SNAPSHOT_CORRUPT).',
    finding: 7,
    heavy: true,
  });
  // The count forged in META and the two hash planes declared at the size it implies (holes):
  // every other PDQ section still holds the 4 real entries.
  const pdqIndex = algorithmIndex(clean, 'pdq');
  const planes: number[] = [KIND.PLANE_A, KIND.PLANE_B];
  const forgedPdq = withMeta(clean, (meta) => {
    for (const a of meta.algorithms) if (a.name === 'pdq') a.count = 2 ** 26;
  });
  sparse('snapshot-pdq-2-26.snap', [
    ...forgedPdq.filter((s) => !(s.algorithm === pdqIndex && planes.includes(s.kind))),
    ...forgedPdq
      .filter((s) => s.algorithm === pdqIndex && planes.includes(s.kind))
      .map((s) => ({ ...s, data: new Uint8Array(0), declared: (s.data.length / 4) * 2 ** 26 })),
  ]);
  add({
    case: 'snapshot-pdq-2-26',
    file: 'snapshot-pdq-2-26.snap',
    what: 'the clean snapshot with META declaring 2^26 PDQ entries and its two PDQ hash planes declared at the 2 GiB that count implies (holes); its other PDQ sections still hold 4 entries',
    open: { call: 'Matcher.open' },
    expect: { error: anyCode },
    reason:
      'A forged count reached 2.1 GB in the finding: the sections that disagree with it are found from the table, before the planes are read into 2 GiB of scan memory.',
    finding: 7,
    heavy: true,
  });
  sparse('snapshot-unknown-kind-60gb.snap', [
    ...clean,
    { kind: 99, algorithm: NO_ALGORITHM, part: 0, data: new Uint8Array(0), declared: 60e9 },
  ]);
  add({
    case: 'snapshot-unknown-kind-60gb',
    file: 'snapshot-unknown-kind-60gb.snap',
    what: 'the clean snapshot with a last section of unknown kind 99 declared 60 GB long (sparse)',
    open: { call: 'Matcher.open' },
    expect: { error: anyCode },
    reason:
      'An unknown section is refused before anything is allocated for it, as a snapshot error: it failed with a plain RangeError from WebAssembly.Memory().',
    finding: 7,
    heavy: true,
  });
}
