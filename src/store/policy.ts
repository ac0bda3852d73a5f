/**
 * A list's policy: how it is matched (per-algorithm thresholds, each checked against the
 * algorithm's range), what a match means (its label), and whether it is used.
 */
import { checkThresholds, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError } from '../errors.js';
import { MAX_FIELD_LENGTH } from '../lists/entry.js';
import { boolean, invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import { storeError, writable, type StoreContext } from './context.js';
import { lists, storedThresholds } from './reads.js';
import { LIST_ACTIONS, type ListInfo, type ListPolicyChange } from './types.js';

/** A policy change, checked (TypeError / RangeError, `ERR_UNKNOWN_ALGORITHM`): both stores' `setListPolicy` take it so. */
export function resolvePolicyChange(
  name: string,
  change: ListPolicyChange,
): {
  list: string;
  thresholds: Partial<Record<AlgorithmName, number | null>> | undefined;
  label: string | null | undefined;
  enabled: boolean | undefined;
  action: ListPolicyChange['action'];
} {
  const list = nonEmptyString(name, 'name', MAX_FIELD_LENGTH).trim();
  const c = optionsObject(change, 'change');
  const thresholds = c.thresholds === undefined ? undefined : checkThresholdChange(c.thresholds);
  const label =
    c.label === undefined || c.label === null ? c.label : nonEmptyString(c.label, 'label', MAX_FIELD_LENGTH).trim();
  const enabled = c.enabled === undefined ? undefined : boolean(c.enabled, 'enabled');
  const action = c.action === undefined ? undefined : oneOf(c.action, LIST_ACTIONS, 'action');
  return { list, thresholds, label, enabled, action };
}

/** The thresholds to store: `stored` with `change` applied (`null` removes one), by name; `null` for none. */
export function mergeThresholds(
  stored: Partial<Record<AlgorithmName, number>>,
  change: Partial<Record<AlgorithmName, number | null>>,
): string | null {
  const merged: Partial<Record<AlgorithmName, number>> = { ...stored };
  for (const [algorithm, value] of Object.entries(change) as [AlgorithmName, number | null][]) {
    if (value === null) delete merged[algorithm];
    else merged[algorithm] = value;
  }
  const sorted = Object.fromEntries(Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : 1)));
  return Object.keys(sorted).length === 0 ? null : JSON.stringify(sorted);
}

/** {@link HashStore.setListPolicy}. */
export function setListPolicy(ctx: StoreContext, name: string, change: ListPolicyChange): ListInfo {
  const { list, thresholds, label, enabled, action } = resolvePolicyChange(name, change);
  writable(ctx, 'change a list');
  try {
    ctx.db
      .transaction(() => {
        const row = ctx.db
          .prepare<[string], { thresholds: string | null }>('SELECT thresholds FROM lists WHERE name = ?')
          .get(list);
        if (row === undefined)
          throw new HashwardenError('ERR_STORE', `SQLite store ${ctx.path}: no list named ${JSON.stringify(list)}`);
        if (thresholds !== undefined) {
          const merged = mergeThresholds(storedThresholds(ctx, list, row.thresholds), thresholds);
          ctx.db.prepare('UPDATE lists SET thresholds = ? WHERE name = ?').run(merged, list);
        }
        if (label !== undefined) ctx.db.prepare('UPDATE lists SET label = ? WHERE name = ?').run(label, list);
        if (enabled !== undefined)
          ctx.db.prepare('UPDATE lists SET enabled = ? WHERE name = ?').run(enabled ? 1 : 0, list);
        // NULL for block: what every list was before there were actions, so a store's block lists read the same.
        if (action !== undefined)
          ctx.db.prepare('UPDATE lists SET action = ? WHERE name = ?').run(action === 'allow' ? 'allow' : null, list);
      })
      .immediate();
  } catch (error) {
    throw storeError(ctx.path, error);
  }
  return lists(ctx).find((l) => l.name === list) as ListInfo;
}

/** As {@link checkThresholds}, where `null` (back to the default) is allowed too. */
function checkThresholdChange(
  thresholds: Readonly<Partial<Record<AlgorithmName, number | null>>>,
): Partial<Record<AlgorithmName, number | null>> {
  if (thresholds === null || typeof thresholds !== 'object' || Array.isArray(thresholds))
    invalid('object of thresholds by algorithm', 'thresholds', thresholds);
  const out: Partial<Record<AlgorithmName, number | null>> = {};
  for (const [key, value] of Object.entries(thresholds)) {
    const name = getAlgorithm(key).name;
    out[name] = value === null ? null : (checkThresholds({ [name]: value }, 'thresholds')[name] as number);
  }
  return out;
}
