/**
 * Stores on disk for the CLI's tests: one filled with entries, and what one holds.
 */
import { normalizeEntry, type ListEntry, type ListEntryInput } from '../lists/entry.js';
import { HashStore } from '../store/index.js';

/** Creates the store at `path` holding `entries` (one import). */
export function seedStore(path: string, entries: readonly ListEntryInput[]): void {
  const store = HashStore.open(path);
  try {
    store.importEntries(entries.map((e) => normalizeEntry(e)));
  } finally {
    store.close();
  }
}

/** Every entry of the store at `path`, in the store's order (list, id). */
export function storeEntries(path: string): ListEntry[] {
  const store = HashStore.open(path, { readonly: true });
  try {
    return [...store.entries()];
  } finally {
    store.close();
  }
}
