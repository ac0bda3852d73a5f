/**
 * `../shared`: a folder beside the checkout holding reference vectors and photos that are not in the
 * repository (Meta's PDQ reference images, hashes and hash lists; benign photos, EXIF orientation
 * samples). The project's CI has it. Tests that need it skip without it, all with one message, so a
 * newcomer who sees a skip learns the same thing whichever test it was.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of `../shared`, beside the checkout (this file is src/testing/shared.ts). */
export const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));

/** Why a test that needs `../shared` was skipped: the same words everywhere. */
const SKIP_NO_SHARED = 'needs ../shared (reference vectors and photos beside the checkout; CI has it)';

/** The path of `parts` inside `../shared`, present or not. */
export function sharedPath(...parts: string[]): string {
  return join(SHARED, ...parts);
}

/** Whether this module has printed its note: once per test file is enough. */
let noted = false;

/**
 * Whether `../shared` holds `parts` (a file or folder a test reads). When it does not, says so once
 * on standard error with {@link SKIP_NO_SHARED}: vitest's default report counts skipped tests but
 * does not name them.
 */
export function hasShared(...parts: string[]): boolean {
  const present = existsSync(sharedPath(...parts));
  if (!present && !noted) {
    noted = true;
    console.warn(`skipped: ${SKIP_NO_SHARED}`);
  }
  return present;
}

/**
 * A test or suite name that says, when `present` is false, why it is skipped: with
 * `describe.skipIf(!present)(sharedTitle(name, present), …)` the reason shows wherever skipped
 * tests are listed (`--reporter=verbose`).
 */
export function sharedTitle(name: string, present: boolean): string {
  return present ? name : `${name} [${SKIP_NO_SHARED}]`;
}
