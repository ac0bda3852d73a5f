/**
 * The arithmetic of the robustness benchmark, kept apart from the image work so that it can be
 * checked on its own: distances between 256-bit hashes, histograms of distances, and the rates
 * read off them (a threshold t matches every distance ≤ t).
 */
import type { EditGroup } from './edits.js';

/** Perceptual algorithms measured. */
export const ALGORITHMS = ['pdq', 'blockhash'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** Largest distance of a 256-bit hash, and the largest threshold a list accepts. */
export const BITS = 256;
export const MAX_THRESHOLD = 64;

/** A 256-bit hash as 8 words, for fast distances. */
export type Words = Uint32Array;

/** The hash bytes as 8 words (byte order does not matter to a Hamming distance). */
export function toWords(hash: Uint8Array): Words {
  if (hash.length !== BITS / 8) throw new RangeError(`Expected ${BITS / 8} bytes but received ${hash.length}`);
  return new Uint32Array(Uint8Array.from(hash).buffer);
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
}

/** Hamming distance of two hashes given as words. */
export function distance(a: Words, b: Words): number {
  let d = 0;
  for (let i = 0; i < 8; i++) d += popcount32(((a[i] as number) ^ (b[i] as number)) >>> 0);
  return d;
}

/**
 * The distance a dihedral search finds between an upload and a listed hash: the least over the
 * upload's 8 hashes (turned and mirrored), as `matchImage` searches them against the list.
 */
export function dihedralDistance(upload: readonly Words[], listed: Words): number {
  let best = BITS;
  for (const variant of upload) best = Math.min(best, distance(variant, listed));
  return best;
}

/**
 * How many pairs fell at each distance 0..256, plus those that could not be compared (a hash
 * refused for low quality or information, or an image that did not decode): those never match.
 */
export class Histogram {
  readonly counts = new Float64Array(BITS + 1);
  missing = 0;

  add(d: number): void {
    (this.counts[d] as number)++;
  }

  /** Pairs counted, compared or not. */
  get total(): number {
    let n = this.missing;
    for (const c of this.counts) n += c;
    return n;
  }

  /** Pairs within `t`: the matches at threshold t. */
  within(t: number): number {
    let n = 0;
    for (let d = 0; d <= t; d++) n += this.counts[d] as number;
    return n;
  }

  /** Share of all pairs (missing ones included) within `t`: a true- or false-positive rate. */
  rate(t: number): number {
    const total = this.total;
    return total === 0 ? Number.NaN : this.within(t) / total;
  }

  /** Least distance seen, or undefined when nothing was compared. */
  get min(): number | undefined {
    const d = this.counts.findIndex((c) => c > 0);
    return d < 0 ? undefined : d;
  }

  merge(other: Histogram): this {
    for (let d = 0; d <= BITS; d++) (this.counts[d] as number) += other.counts[d] as number;
    this.missing += other.missing;
    return this;
  }

  /** A histogram from its {@link toJSON} form (docs/thresholds.json). */
  static fromJSON(json: { counts: readonly number[]; missing: number }): Histogram {
    const h = new Histogram();
    h.counts.set(json.counts);
    h.missing = json.missing;
    return h;
  }

  toJSON(): { counts: number[]; missing: number } {
    // Trailing zeros dropped to keep the data file small.
    let end = BITS + 1;
    while (end > 0 && this.counts[end - 1] === 0) end--;
    return { counts: Array.from(this.counts.subarray(0, end)), missing: this.missing };
  }
}

/**
 * The histograms of every edit of `group` merged into one: the `mode` histogram (plain, with
 * matching on, against a reference list…) of algorithm `a`.
 */
export function groupHistogram<M extends string>(
  edits: readonly { readonly group: string; readonly stats: Record<Algorithm, Record<M, Histogram>> }[],
  a: Algorithm,
  group: string,
  mode: M,
): Histogram {
  const h = new Histogram();
  for (const e of edits) if (e.group === group) h.merge(e.stats[a][mode]);
  return h;
}

/**
 * Groups of files that show the same scene, from `near_duplicate_groups.json` (its `groups`,
 * `pairs` and dihedral pairs), merged transitively: two files in one group are not an unrelated
 * pair. Returns file → group number.
 */
export function sameSceneGroups(pairs: readonly (readonly unknown[])[]): Map<string, number> {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root) as string;
    parent.set(x, root);
    return root;
  };
  for (const group of pairs) {
    const files = group.filter((f): f is string => typeof f === 'string');
    for (const f of files) if (!parent.has(f)) parent.set(f, f);
    for (const f of files.slice(1)) parent.set(find(f), find(files[0] as string));
  }
  const ids = new Map<string, number>();
  const out = new Map<string, number>();
  for (const f of parent.keys()) {
    const root = find(f);
    if (!ids.has(root)) ids.set(root, ids.size);
    out.set(f, ids.get(root) as number);
  }
  return out;
}

/** Everything one run measured. */
export interface Report {
  readonly environment: string;
  readonly command: string;
  readonly photos: number;
  readonly photoDir: string;
  /** Originals with a usable hash, per algorithm: the listed images. */
  readonly listed: Record<Algorithm, number>;
  readonly defaults: Record<Algorithm, number>;
  readonly maxThreshold: number;
  readonly edits: readonly {
    name: string;
    group: EditGroup;
    description: string;
    stats: Record<
      Algorithm,
      { plain: Histogram; dihedral: Histogram; referencePlain: Histogram; referenceDihedral: Histogram }
    >;
  }[];
  /** Originals the reference tools hashed, per algorithm. */
  readonly references: Record<Algorithm, number>;
  readonly pool: {
    tiles: number;
    hashed: number;
    refused: Record<Algorithm, number>;
    excludedScenePairs: number;
    unrelated: Record<Algorithm, { plain: Histogram; trimmed: Histogram; dihedral: Histogram; sameSource: Histogram }>;
  };
  /** Per algorithm: low-information images by kind, how many have a usable hash, and matches at the default. */
  readonly lowInformation: readonly {
    algorithm: Algorithm;
    kinds: { kind: string; images: number; usable: number }[];
    matches: number;
    examples: string[];
  }[];
  readonly seconds: number;
}
