/**
 * A fast-check arbitrary of normalised list entries for the list reader and writer round trips
 * (formats.test.ts, stream.test.ts): every algorithm, vPDQ included (a few generated frames, the
 * signal text with spaces and quotes), ids, labels and metadata of awkward text that every format
 * carries exactly (trimmed and non-empty: CSV trims cells and omits empty ones).
 */
import fc from 'fast-check';
import { ALGORITHM_NAMES, getAlgorithm } from '../algorithms/registry.js';
import { formatVpdqJson } from '../algorithms/vpdq.js';
import { normalizeEntry, type ListEntry } from '../lists/entry.js';
import { vpdqFrameArrays } from './vpdq-entries.js';

/** Entries whose texts are random graphemes or one of `specials` (quotes, commas, line breaks…). */
export function listEntries(specials: readonly string[]): fc.Arbitrary<ListEntry> {
  const text = fc
    .oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), fc.constantFrom(...specials))
    .filter((s) => s.length > 0 && s.trim() === s);
  const metadataKey = fc
    .oneof(fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/), fc.constantFrom('type', 'signal_type', 'Source'))
    .filter((k) => !['id', 'list', 'algorithm', 'hash', 'label', 'op'].includes(k));
  return fc
    .record({
      list: fc.constantFrom('alpha', 'beta list', 'γ'),
      algorithm: fc.constantFrom(...ALGORITHM_NAMES, 'vpdq'),
      bytes: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      frames: vpdqFrameArrays(),
      id: fc.option(text, { nil: undefined }),
      label: fc.option(text, { nil: undefined }),
      metadata: fc.option(fc.dictionary(metadataKey, text, { maxKeys: 3, noNullPrototype: true }), { nil: undefined }),
    })
    .map(({ bytes, frames, algorithm, ...rest }) =>
      normalizeEntry({
        ...rest,
        algorithm,
        hash: algorithm === 'vpdq' ? formatVpdqJson(frames) : bytes.subarray(0, getAlgorithm(algorithm).bits / 8),
      }),
    );
}
