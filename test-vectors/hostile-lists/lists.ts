/**
 * The list files of the hostile-inputs corpus: files that rewrite other providers' lists (finding
 * 1), unbounded metadata (2), deep nesting (8), and the attacks that already failed before issue 18.
 */
import {
  appendRepeated,
  type Draft,
  type HostileCase,
  hex,
  lines,
  metadataLimits,
  type OpenSpec,
  repeated,
  SEEDED,
  utf8,
} from './common.js';

/** Columns of the finding's wide CSV: 8 million unnamed ones after id, algorithm and hash. */
const WIDE_COLUMNS = 8_000_000;

export function listFiles(drafts: Draft[], cases: HostileCase[]): void {
  const limits = metadataLimits();
  const file = (name: string, data: Draft['data'], record = true): void => {
    drafts.push({ file: name, data, record });
  };
  const add = (c: Omit<HostileCase, 'kind'>): void => {
    cases.push({ kind: 'list', ...c });
  };
  const vendorA = { list: 'vendorA' } as const;
  const into = (options: Record<string, unknown> = {}): OpenSpec => ({
    call: 'importFile',
    options: { ...vendorA, ...options },
  });
  const unchanged = { error: 'ERR_LIST_FORMAT', lists: SEEDED } as const;

  // --- Finding 1: one provider's file rewriting other lists --------------------------------------
  file(
    'vendorA-removes-L1.csv',
    lines('id,list,algorithm,hash,op', `l1-a,L1,md5,${hex('md5', 'l1-a')},remove`, `l1-b,L1,sha1,,remove`),
  );
  add({
    case: 'vendorA-removes-L1',
    file: 'vendorA-removes-L1.csv',
    what: 'a CSV imported as list vendorA whose rows are op=remove of both entries of another list, L1',
    open: into(),
    expect: unchanged,
    reason:
      "A provider's file may only touch the list it is imported as: otherwise one vendor's file empties another's list and its images stop matching, with exit 0.",
    finding: 1,
  });
  add({
    case: 'vendorA-removes-L1-multi-list',
    file: 'vendorA-removes-L1.csv',
    what: 'the same file with multiList: true, without allowEmpty',
    open: into({ multiList: true }),
    expect: unchanged,
    reason:
      'Opting in to multi-list files allows the rows, but removals that leave L1 empty still need allowEmpty, as a replace does.',
    finding: 1,
  });
  add({
    case: 'vendorA-removes-L1-multi-list-allow-empty',
    file: 'vendorA-removes-L1.csv',
    what: 'the same file with multiList: true and allowEmpty: true',
    open: into({ multiList: true, allowEmpty: true }),
    expect: { ok: { lists: { vendorA: 1 } } },
    reason: 'Both opt-ins given: the caller asked for exactly this, so L1 is emptied.',
    finding: 1,
  });
  file(
    'vendorA-adds-to-L1-and-L2.csv',
    lines('id,list,algorithm,hash', `l1-c,L1,md5,${hex('md5', 'l1-c')}`, `l2-a,L2,sha256,${hex('sha256', 'l2-a')}`),
  );
  add({
    case: 'vendorA-adds-to-other-lists',
    file: 'vendorA-adds-to-L1-and-L2.csv',
    what: 'a CSV imported as list vendorA whose add rows name list L1 and a new list L2',
    open: into(),
    expect: unchanged,
    reason:
      'Adding to another list is rewriting it too (and a new list appears from nowhere): refused, nothing written.',
    finding: 1,
  });
  add({
    case: 'vendorA-adds-to-other-lists-multi-list',
    file: 'vendorA-adds-to-L1-and-L2.csv',
    what: 'the same file with multiList: true',
    open: into({ multiList: true }),
    expect: { ok: { lists: { L1: 3, L2: 1, vendorA: 1 } } },
    reason: 'A multi-list file the caller opted in to: each row goes to the list it names.',
    finding: 1,
  });
  file('vendorA-removes-its-last.csv', lines('id,algorithm,hash,op', `va-1,md5,${hex('md5', 'va-1')},remove`));
  add({
    case: 'vendorA-removes-its-last-entry',
    file: 'vendorA-removes-its-last.csv',
    what: "a CSV imported as list vendorA removing vendorA's only entry",
    open: into(),
    expect: unchanged,
    reason:
      'A delta that empties a list is far more often a broken export than an intent: it needs allowEmpty, as a replace does.',
    finding: 1,
  });
  add({
    case: 'vendorA-removes-its-last-entry-allow-empty',
    file: 'vendorA-removes-its-last.csv',
    what: 'the same file with allowEmpty: true',
    open: into({ allowEmpty: true }),
    expect: { ok: { lists: { L1: 2 } } },
    reason: 'Emptying asked for: done.',
    finding: 1,
  });
  file('vendorA-delta.csv', lines('id,algorithm,hash,source', `va-2,sha256,${hex('sha256', 'va-2')},feed`));
  add({
    case: 'vendorA-delta',
    file: 'vendorA-delta.csv',
    what: 'an ordinary delta for vendorA: one new entry, no list column',
    open: into(),
    expect: { ok: { lists: { L1: 2, vendorA: 2 } } },
    reason: "The legitimate import the limits must not disturb: the provider's own list grows, nothing else changes.",
    finding: 1,
  });

  // --- Finding 2: metadata without a bound -------------------------------------------------------
  file('wide-csv-8m-columns.csv', async (path) => {
    await repeated(path, 'id,algorithm,hash', ',', WIDE_COLUMNS, '\n');
    // One row of 8 million values of "0" under the header's 8 million empty names.
    return appendRepeated(path, ',0', WIDE_COLUMNS, '\n', `w-1,md5,${hex('md5', 'w-1')}`);
  });
  add({
    case: 'wide-csv-8m-columns',
    file: 'wide-csv-8m-columns.csv',
    what: "the finding's 24 MB CSV: a header of id, algorithm, hash and 8,000,000 unnamed columns, and one row of 8,000,003 fields",
    open: into(),
    expect: unchanged,
    reason:
      'Imported it took 6.7 GB and made every later match on the store cost 1.9 GB: a header over MAX_CSV_COLUMNS fails the file before any row is read.',
    finding: 2,
    heavy: true,
  });
  file('wide-csv-6-rows.csv', async (path) => {
    await repeated(path, 'id,algorithm,hash', ',', WIDE_COLUMNS, '\n');
    let size = 0;
    for (let i = 1; i <= 6; i++)
      size = await appendRepeated(path, ',0', WIDE_COLUMNS, '\n', `w-${i},md5,${hex('md5', `w-${i}`)}`);
    return size;
  });
  add({
    case: 'wide-csv-6-rows',
    file: 'wide-csv-6-rows.csv',
    what: 'the 104 MB variant: the same header and six rows of 8,000,003 fields, read by streamListFile with onError skip',
    open: { call: 'streamListFile', options: { ...vendorA, onError: 'skip' } },
    expect: { error: 'ERR_LIST_FORMAT' },
    reason:
      'The reader ran out of heap at 7.8 GB after 6 minutes: the header fails the file at once, whatever the bad-row policy.',
    finding: 2,
    heavy: true,
  });
  const header = (n: number) =>
    ['id', 'algorithm', 'hash', ...Array.from({ length: n - 3 }, (_, i) => `m${i}`)].join(',');
  const row = (n: number, id: string) =>
    [id, 'md5', hex('md5', id), ...Array.from({ length: n - 3 }, () => 'x')].join(',');
  file('csv-columns-over-limit.csv', lines(header(limits.columns + 1), row(limits.columns + 1, 'c-1')), false);
  add({
    case: 'csv-columns-over-limit',
    file: 'csv-columns-over-limit.csv',
    what: 'a CSV whose header has MAX_CSV_COLUMNS + 1 named columns, one row, read by readListFile with onError skip',
    open: { call: 'readListFile', options: { ...vendorA, onError: 'skip' } },
    expect: { error: 'ERR_LIST_FORMAT' },
    reason: 'A header over the column limit fails the whole file: every row under it would be over too.',
    finding: 2,
  });
  // As many columns as the column and the key limits both allow (every column past three is a key).
  const within = Math.min(limits.columns, limits.keys + 3);
  file('csv-columns-within-limits.csv', lines(header(within), row(within, 'c-1')), false);
  add({
    case: 'csv-columns-within-limits',
    file: 'csv-columns-within-limits.csv',
    what: 'a CSV of min(MAX_CSV_COLUMNS, MAX_METADATA_KEYS + 3) columns (short names and values)',
    open: { call: 'readListFile', options: vendorA },
    expect: { ok: { entries: 1 } },
    reason: 'At the limits is allowed: they refuse only what is over them.',
    finding: 2,
  });
  const good = (id: string) => JSON.stringify({ id, algorithm: 'md5', hash: hex('md5', id) });
  const big = 'x'.repeat(limits.bytes + 4_096);
  file(
    'ndjson-metadata-over-64k.ndjson',
    lines(
      good('n-1'),
      JSON.stringify({ id: 'n-2', algorithm: 'md5', hash: hex('md5', 'n-2'), note: big }),
      good('n-3'),
    ),
  );
  for (const skip of [false, true])
    add({
      case: `ndjson-metadata-over-64k${skip ? '-skip' : ''}`,
      file: 'ndjson-metadata-over-64k.ndjson',
      what: `NDJSON whose line 2 carries ${big.length} bytes of metadata (over MAX_METADATA_BYTES), between two good rows${skip ? ', onError skip' : ''}`,
      open: { call: 'readListFile', options: skip ? { ...vendorA, onError: 'skip' } : vendorA },
      expect: skip ? { ok: { entries: 2, skippedLines: [2] } } : { error: 'ERR_LIST_FORMAT' },
      reason:
        'Metadata is bounded per row: over the bound is a bad row naming file:line, skipped like any bad row when asked.',
      finding: 2,
    });
  const csvBig = 'y'.repeat(limits.bytes + 4_096);
  file(
    'csv-metadata-cell-over-64k.csv',
    lines('id,algorithm,hash,note', `c-1,md5,${hex('md5', 'c-1')},${csvBig}`, `c-2,md5,${hex('md5', 'c-2')},ok`),
  );
  add({
    case: 'csv-metadata-cell-over-64k',
    file: 'csv-metadata-cell-over-64k.csv',
    what: `a CSV whose first row has a ${csvBig.length}-byte metadata cell, imported with onError skip`,
    open: into({ onError: 'skip' }),
    expect: { ok: { lists: { L1: 2, vendorA: 2 }, skippedLines: [2] } },
    reason: 'The same bound for CSV metadata, through the store import: the bad row is skipped, the good one imported.',
    finding: 2,
  });
  const under = 'z'.repeat(limits.bytes - 1_024);
  file(
    'ndjson-metadata-under-64k.ndjson',
    lines(JSON.stringify({ id: 'u-1', algorithm: 'md5', hash: hex('md5', 'u-1'), note: under })),
  );
  add({
    case: 'ndjson-metadata-under-64k',
    file: 'ndjson-metadata-under-64k.ndjson',
    what: `NDJSON with ${under.length} bytes of metadata, under MAX_METADATA_BYTES`,
    open: { call: 'readListFile', options: vendorA },
    expect: { ok: { entries: 1 } },
    reason: 'Large but within the bound: accepted, so the bound refuses nothing a list legitimately carries.',
    finding: 2,
  });
  const keys = Object.fromEntries(Array.from({ length: limits.keys + 1 }, (_, i) => [`k${i}`, 0]));
  file(
    'ndjson-metadata-keys-over-limit.ndjson',
    lines(good('k-1'), JSON.stringify({ id: 'k-2', algorithm: 'md5', hash: hex('md5', 'k-2'), metadata: keys })),
    false,
  );
  add({
    case: 'ndjson-metadata-keys-over-limit',
    file: 'ndjson-metadata-keys-over-limit.ndjson',
    what: 'NDJSON whose line 2 has metadata of MAX_METADATA_KEYS + 1 keys, streamed with onError skip',
    open: { call: 'streamListFile', options: { ...vendorA, onError: 'skip' } },
    expect: { ok: { entries: 1, skippedLines: [2] } },
    reason: 'Keys are bounded per row (each costs a column in every export): a bad row, skipped.',
    finding: 2,
  });

  // --- Finding 8: nesting ------------------------------------------------------------------------
  for (const depth of [5_000, 100_000]) {
    const name = `ndjson-nested-${depth}.ndjson`;
    const nested = `{"metadata":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)},"id":"d-2","algorithm":"md5","hash":"${hex('md5', 'd-2')}"}`;
    file(name, lines(good('d-1'), nested, good('d-3')));
    add({
      case: `ndjson-nested-${depth}`,
      file: name,
      what: `NDJSON whose line 2 has metadata nested ${depth.toLocaleString('en')} objects deep, between two good rows`,
      open: { call: 'readListFile', options: vendorA },
      expect: { error: 'ERR_LIST_FORMAT' },
      reason:
        'Deeper than MAX_METADATA_DEPTH is a bad row naming file:line, not a stack overflow failing the import as ERR_INVALID_ARGUMENT.',
      finding: 8,
    });
    add({
      case: `ndjson-nested-${depth}-skip`,
      file: name,
      what: 'the same file imported with onError skip',
      open: into({ onError: 'skip' }),
      expect: { ok: { lists: { L1: 2, vendorA: 3 }, skippedLines: [2] } },
      reason: 'Skipping bad rows applies to nesting too: the two good rows are imported.',
      finding: 8,
    });
  }
  const nestedRow = (id: string, levels: number) =>
    `{"id":"${id}","algorithm":"md5","hash":"${hex('md5', id)}","metadata":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`;
  file('ndjson-depth-over-limit.ndjson', lines(good('e-1'), nestedRow('e-2', limits.depth + 1)), false);
  add({
    case: 'ndjson-depth-over-limit',
    file: 'ndjson-depth-over-limit.ndjson',
    what: 'NDJSON whose line 2 nests MAX_METADATA_DEPTH + 1 objects inside its metadata, streamed with onError skip',
    open: { call: 'streamListFile', options: { ...vendorA, onError: 'skip' } },
    expect: { ok: { entries: 1, skippedLines: [2] } },
    reason: 'Just over the depth bound (however the metadata object itself is counted) is a bad row like 5,000 deep.',
    finding: 8,
  });
  file('ndjson-depth-under-limit.ndjson', lines(nestedRow('e-3', limits.depth - 1)), false);
  add({
    case: 'ndjson-depth-under-limit',
    file: 'ndjson-depth-under-limit.ndjson',
    what: 'NDJSON nesting MAX_METADATA_DEPTH - 1 objects inside its metadata',
    open: { call: 'readListFile', options: vendorA },
    expect: { ok: { entries: 1 } },
    reason: 'Within the bound (however the metadata object itself is counted): accepted.',
    finding: 8,
  });
  file(
    'ndjson-nested-4.ndjson',
    lines(
      JSON.stringify({ id: 'n4', algorithm: 'md5', hash: hex('md5', 'n4'), metadata: { a: { b: { c: { d: 1 } } } } }),
    ),
  );
  add({
    case: 'ndjson-nested-4',
    file: 'ndjson-nested-4.ndjson',
    what: 'NDJSON metadata nested four objects deep',
    open: { call: 'readListFile', options: vendorA },
    expect: { ok: { entries: 1 } },
    reason: 'Ordinary structured metadata stays accepted.',
    finding: 8,
  });

  // --- Attacks that held up before issue 18: kept as regression cases ----------------------------
  const line100 = 100 * 1024 * 1024;
  file('single-line-100mb.txt', (path) => repeated(path, 'md5 ', '0', line100, '\n'));
  add({
    case: 'single-line-100mb',
    file: 'single-line-100mb.txt',
    what: 'a 100 MB text list that is one line, streamed',
    open: { call: 'streamListFile', options: vendorA },
    expect: { error: 'ERR_LIST_FORMAT' },
    reason: 'Refused once the line passes MAX_LIST_LINE_BYTES (16 MiB), without holding the 100 MB.',
    finding: 'held',
    heavy: true,
  });
  file(
    'invalid-utf8.csv',
    Buffer.concat([
      utf8('id,algorithm,hash,note\n'),
      utf8(`i-1,md5,${hex('md5', 'i-1')},`),
      Buffer.from([0xc3, 0x28, 0xff, 0x0a]),
    ]),
  );
  add({
    case: 'invalid-utf8',
    file: 'invalid-utf8.csv',
    what: 'a CSV whose metadata cell is invalid UTF-8 (C3 28 FF)',
    open: { call: 'readListFile', options: vendorA },
    expect: { error: 'ERR_LIST_FORMAT' },
    reason: 'Not text: refused rather than stored with replacement characters nobody chose.',
    finding: 'held',
  });
  file(
    'nul-bytes.csv',
    lines('id,algorithm,hash', `nul\u0000id,md5,${hex('md5', 'nul')}`, `n-2,md5\u0000,${hex('md5', 'n-2')}`),
  );
  add({
    case: 'nul-bytes',
    file: 'nul-bytes.csv',
    what: 'a CSV with NUL bytes inside an id and after an algorithm name',
    open: { call: 'readListFile', options: vendorA },
    expect: { error: 'ERR_LIST_FORMAT' },
    reason: 'NUL cuts strings short in C and in logs: a field holding one is a bad row.',
    finding: 'held',
  });
  file(
    'bom-utf8.csv',
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), lines('id,algorithm,hash', `b-1,md5,${hex('md5', 'b-1')}`)]),
  );
  add({
    case: 'bom-utf8',
    file: 'bom-utf8.csv',
    what: 'a CSV starting with a UTF-8 byte order mark (as Excel writes)',
    open: into(),
    expect: { ok: { lists: { L1: 2, vendorA: 2 } } },
    reason: "The mark is not part of the first column's name: read like the same file without it.",
    finding: 'held',
  });
  file(
    'bom-utf16le.csv',
    Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`id,algorithm,hash\nb-1,md5,${hex('md5', 'b-1')}\n`, 'utf16le'),
    ]),
  );
  add({
    case: 'bom-utf16le',
    file: 'bom-utf16le.csv',
    what: 'the same CSV in UTF-16LE with its byte order mark',
    open: { call: 'readListFile', options: vendorA },
    expect: { error: 'ERR_LIST_FORMAT' },
    reason: 'Lists are UTF-8: a UTF-16 file is refused, not read as a header of NULs.',
    finding: 'held',
  });
  file(
    'proto-keys.ndjson',
    lines(
      `{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"id":"p-1","algorithm":"md5","hash":"${hex('md5', 'p-1')}"}`,
      `{"id":"p-2","algorithm":"md5","hash":"${hex('md5', 'p-2')}","metadata":{"__proto__":{"polluted":"yes"}}}`,
    ),
  );
  add({
    case: 'proto-keys',
    file: 'proto-keys.ndjson',
    what: 'NDJSON rows with __proto__ and constructor.prototype keys at the top and inside metadata',
    open: into(),
    expect: { ok: { lists: { L1: 2, vendorA: 3 } } },
    reason:
      'Keys are data: kept as metadata (or dropped), never merged into Object.prototype (the test checks it is clean after).',
    finding: 'held',
  });
  file('numeric-hash.ndjson', lines(`{"id":"h-1","algorithm":"md5","hash":123456789012345678901234567890}`));
  add({
    case: 'numeric-hash',
    file: 'numeric-hash.ndjson',
    what: 'NDJSON whose hash is a JSON number of 30 digits',
    open: { call: 'readListFile', options: vendorA },
    expect: { error: 'ERR_LIST_FORMAT' },
    reason: 'A number is not a hash (its digits are already rounded): a bad row, not a hash made from its rounding.',
    finding: 'held',
  });
  const arabic = hex('md5', 'h-2').replace(/[0-9]/g, (d) => String.fromCharCode(0x0660 + Number(d)));
  file('non-ascii-digit-hash.csv', lines('id,algorithm,hash', `h-2,md5,${arabic}`));
  add({
    case: 'non-ascii-digit-hash',
    file: 'non-ascii-digit-hash.csv',
    what: 'a CSV whose md5 has its digits written as Arabic-Indic digits (U+0660–U+0669)',
    open: { call: 'readListFile', options: vendorA },
    expect: { error: 'ERR_LIST_FORMAT' },
    reason: 'Hashes are ASCII hex: look-alike digits are refused, not read as some other hash.',
    finding: 'held',
  });
  file('cr-only.csv', utf8(`id,algorithm,hash\r c-1,md5,${hex('md5', 'c-1')}\rc-2,md5,${hex('md5', 'c-2')}\r`));
  add({
    case: 'cr-only',
    file: 'cr-only.csv',
    what: 'a CSV with old-Mac CR line ends',
    open: { call: 'readListFile', options: vendorA },
    expect: { error: 'ERR_LIST_FORMAT' },
    reason: 'Read as one header line it would import nothing and say so quietly: refused, naming the line ends.',
    finding: 'held',
  });
  file('empty.csv', new Uint8Array(0));
  add({
    case: 'empty',
    file: 'empty.csv',
    what: 'an empty file, imported as vendorA',
    open: into(),
    expect: { ok: { lists: SEEDED } },
    reason: 'Nothing to import: nothing changes (no list is emptied by it, which a replace would need allowEmpty for).',
    finding: 'held',
  });
  file(
    'hash-output.ndjson',
    lines(
      JSON.stringify({
        file: 'a.jpg',
        blockhash: hex('sha256', 'a-b'),
        pdq: hex('sha256', 'a-p'),
        pdqQuality: 100,
        unusable: {},
        md5: hex('md5', 'a'),
      }),
      JSON.stringify({ file: 'b.png', error: { code: 'ERR_IMAGE_DECODE', message: 'bad' } }),
    ),
  );
  add({
    case: 'hash-output',
    file: 'hash-output.ndjson',
    what: '`hashwarden hash` output (one JSON object per file, without --as-list) given as a list',
    open: { call: 'readListFile', options: vendorA },
    expect: { error: 'ERR_LIST_FORMAT' },
    reason:
      'Those lines are not list rows (no hash field): refused, pointing at --as-list, never imported as something else.',
    finding: 'held',
  });
  // --- Issue 21: NCMEC's XML, read whole --------------------------------------------------------
  const lol = ['<!ENTITY lol "lol">'];
  for (let i = 1; i <= 9; i++) lol.push(`<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`);
  file(
    'ncmec-billion-laughs.xml',
    lines(
      '<?xml version="1.0"?>',
      `<!DOCTYPE queryResult [${lol.join('')}]>`,
      '<queryResult><images><image><member id="1">&lol9;</member><id>&lol9;</id>',
      `<fingerprints><md5>${hex('md5', 'lol')}</md5></fingerprints></image></images></queryResult>`,
    ),
  );
  add({
    case: 'ncmec-billion-laughs',
    file: 'ncmec-billion-laughs.xml',
    what: 'an NCMEC XML page whose DOCTYPE declares entities expanding to 10^9 "lol"s, imported as vendorA',
    open: into({ format: 'ncmec' }),
    expect: unchanged,
    reason: 'Expanding it takes gigabytes: a document with a DOCTYPE is refused before parsing, nothing imported.',
    finding: 'held',
  });
  file(
    'ncmec-truncated.xml',
    lines(
      '<?xml version="1.0"?>',
      '<queryResult><images>',
      `<deletedImage><member id="1">M</member><id>x</id></deletedImage>`,
      `<image><member id="1">M</member><id>y</id><fingerprints><md5>${hex('md5', 'y')}</md5>`,
    ),
  );
  add({
    case: 'ncmec-truncated',
    file: 'ncmec-truncated.xml',
    what: 'an NCMEC XML page cut off inside a record, imported as vendorA',
    open: into({ format: 'ncmec' }),
    expect: unchanged,
    reason: 'The records before the cut would be a silent half-import: the document is refused whole.',
    finding: 'held',
  });
}
