/**
 * Byte mutations for the fuzz tests of the list readers (docs/fuzzing.md): a valid file, then a
 * few edits of the kinds that break parsers — bit flips, truncation, deletions, repeated runs and
 * insertions of the characters the formats give meaning to (quotes, commas, line ends, a BOM, NUL,
 * `{`, `#`), of invalid UTF-8 and of lines longer than the streaming reader's 64 KiB chunk.
 */
import fc from 'fast-check';

/** One edit; positions are taken modulo the length of the bytes it is applied to. */
export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'repeat'; readonly at: number; readonly length: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array };

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Short insertions: what the formats give meaning to, and byte sequences that are not UTF-8. */
const SPECIAL_INSERTIONS: readonly Uint8Array[] = Object.freeze([
  ...[
    '"',
    '""',
    ',',
    ',,',
    '\n',
    '\r',
    '\r\n',
    '\n\n',
    '\uFEFF',
    '\0',
    ' ',
    '\t',
    '{',
    '}',
    '[',
    ']',
    ':',
    '#',
    '\\',
    '"\n"',
    'null',
    '{}',
    '"hash"',
    'hash,',
    'op',
    ',remove',
    '\u2028',
    '\u00a0',
    '\u0085',
    '😀',
    'md5 ',
    'photo_md5',
    ' pdq ',
  ].map(utf8),
  // Invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong slash, a UTF-16
  // surrogate, a code point past U+10FFFF, bytes that never occur.
  Uint8Array.of(0x80),
  Uint8Array.of(0xc3),
  Uint8Array.of(0xe2, 0x82),
  Uint8Array.of(0xc0, 0xaf),
  Uint8Array.of(0xed, 0xa0, 0x80),
  Uint8Array.of(0xf4, 0x90, 0x80, 0x80),
  Uint8Array.of(0xff),
  Uint8Array.of(0xfe, 0xff),
]);

/** An insertion: a special sequence, random bytes, hex digits, or (rarely) a run past 64 KiB. */
function insertion(): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...SPECIAL_INSERTIONS) },
    { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 16 }) },
    { weight: 2, arbitrary: fc.stringMatching(/^[0-9a-fA-F]{1,70}$/).map(utf8) },
    // A line longer than the streaming reader's 64 KiB chunk, with or without a line feed in it.
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 65_000, max: 140_000 }), fc.constantFrom('a', ' ', '0', '"', ','))
        .map(([n, c]) => utf8(c.repeat(n))),
    },
  );
}

/** One random edit. */
export function mutation(): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('flip' as const), at, bit: fc.nat(7) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('set' as const), at, value: fc.nat(255) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 64 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('repeat' as const), at, length: fc.integer({ min: 1, max: 200 }) }),
    },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('insert' as const), at, bytes: insertion() }) },
  );
}

/** `bytes` with `edits` applied in order (a new array; `bytes` is not changed). */
export function applyMutations(bytes: Uint8Array, edits: readonly Mutation[]): Uint8Array {
  let out: Uint8Array = Uint8Array.from(bytes);
  for (const edit of edits) {
    const n = out.length;
    switch (edit.kind) {
      case 'flip':
        if (n > 0) out[edit.at % n] = (out[edit.at % n] as number) ^ (1 << edit.bit);
        break;
      case 'set':
        if (n > 0) out[edit.at % n] = edit.value;
        break;
      case 'truncate':
        out = out.slice(0, edit.at % (n + 1));
        break;
      case 'delete': {
        const from = edit.at % (n + 1);
        out = concat(out.subarray(0, from), out.subarray(Math.min(n, from + edit.length)));
        break;
      }
      case 'repeat': {
        const from = edit.at % (n + 1);
        const run = out.subarray(from, Math.min(n, from + edit.length));
        out = concat(out.subarray(0, from), run, out.subarray(from));
        break;
      }
      case 'insert': {
        const from = edit.at % (n + 1);
        out = concat(out.subarray(0, from), edit.bytes, out.subarray(from));
        break;
      }
    }
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Bytes made from `base` by 0 to `max` edits (fast-check shrinks towards fewer and simpler ones,
 * so a failure is reported with the fewest edits that show it).
 */
export function mutated(
  base: fc.Arbitrary<Uint8Array>,
  max = 4,
): fc.Arbitrary<{ readonly bytes: Uint8Array; readonly edits: readonly Mutation[] }> {
  return fc
    .tuple(base, fc.array(mutation(), { maxLength: max }))
    .map(([bytes, edits]) => ({ bytes: applyMutations(bytes, edits), edits }));
}
