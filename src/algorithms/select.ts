/**
 * Order statistics for the bit decisions of the perceptual hashes (each bit compares a value with
 * a median): the k-th smallest of a few hundred numbers by quickselect (Hoare, "Algorithm 65:
 * find", CACM 1961), in expected linear time. Sorting a copy gave the same numbers but took most
 * of the time of the 8 rotated and flipped hashes.
 */

/**
 * The `k`-th smallest (0-based) of `values[from .. to)`, as sorting a copy and taking its `k`-th
 * gives it (a zero may come back as +0 where sorting gives −0: they compare equal). `values` is not
 * changed; `scratch` must hold `to − from` numbers and is overwritten (the callers keep one:
 * allocating a typed array cost more than the search).
 *
 * @example
 * ```ts
 * kthSmallest(Float32Array.of(5, 1, 4, 2, 3), 2, new Float64Array(5)); // 3
 * ```
 */
export function kthSmallest(
  values: ArrayLike<number>,
  k: number,
  scratch: Float64Array,
  from = 0,
  to = values.length,
): number {
  const n = to - from;
  if (!Number.isInteger(k) || k < 0 || k >= n)
    throw new RangeError(`Expected integer between 0 and ${n - 1} for k but received ${k} of type ${typeof k}`);
  if (scratch.length < n)
    throw new RangeError(`Expected scratch of at least ${n} numbers but received ${scratch.length}`);
  const a = scratch;
  for (let i = 0; i < n; i++) a[i] = values[from + i] as number;
  let left = 0;
  let right = n - 1;
  while (right > left) {
    // Median of three as the pivot keeps sorted and reversed inputs linear.
    const middle = (left + right) >> 1;
    const x = a[left] as number;
    const y = a[middle] as number;
    const z = a[right] as number;
    const pivot = x < y ? (y < z ? y : Math.max(x, z)) : x < z ? x : Math.max(y, z);
    let i = left;
    let j = right;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return a[k] as number;
}
