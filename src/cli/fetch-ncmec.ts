/**
 * `hashwarden fetch ncmec`: NCMEC's flags (`--member`, `--classification`) and how they make the
 * connector; `hashwarden fetch` (src/cli/fetch.ts) adds the flags every programme shares
 * (`--db`, `--list`, `--credentials`, `--environment`, `--base-url`, …) and runs the sync.
 */
import type { Secret } from '../exchanges/credentials.js';
import { NCMEC_ENVIRONMENTS, ncmecExchange, type NcmecEnvironment } from '../exchanges/ncmec.js';
import type { ExchangeClient } from '../exchanges/types.js';
import { invalid } from '../validate.js';

/** The values of NCMEC's own flags, as `parseArgs` gives them. */
export interface NcmecFlagValues {
  readonly member?: readonly string[];
  readonly classification?: readonly string[];
}

/** A member id from `--member`: a whole number (NCMEC's ESP ids), or a RangeError in the standard shape. */
function memberId(value: string): number {
  const trimmed = value.trim();
  if (!/^\d{1,15}$/.test(trimmed)) invalid('member id (a whole number)', '--member', value, true);
  return Number(trimmed);
}

/** `--member 42,43 --member 44`: each flag may list several, comma-separated. */
function listed(values: readonly string[] | undefined): string[] | undefined {
  return values?.flatMap((v) => v.split(',')).filter((v) => v.trim() !== '');
}

/**
 * NCMEC's programme for `hashwarden fetch`.
 *
 * @internal Wired into src/cli/fetch.ts by the lead.
 */
export const ncmecProgramme = {
  name: 'ncmec',
  credentialFields: ['username', 'password'] as const,
  options: {
    member: { type: 'string', multiple: true },
    classification: { type: 'string', multiple: true },
  },
  help: [
    '  ncmec: NCMEC hash-sharing API v2 (credentials: username, password;',
    `         --environment ${Object.keys(NCMEC_ENVIRONMENTS).join('|')}, default Industry)`,
    '  --member ID[,ID]        only records shared by these members (ESP ids); repeatable',
    '  --classification C[,C]  only records of these classifications (A1, A2, B1, B2); a record',
    '                          reclassified out of them is removed; repeatable',
  ].join('\n'),
  create(
    values: NcmecFlagValues,
    credentials: Readonly<Record<'username' | 'password', Secret>>,
    common: { readonly environment?: string; readonly baseUrl?: string },
  ): ExchangeClient {
    const members = listed(values.member)?.map(memberId);
    const classifications = listed(values.classification)?.map((c) => c.trim());
    return ncmecExchange({
      credentials,
      ...(common.environment === undefined ? {} : { environment: common.environment as NcmecEnvironment }),
      ...(common.baseUrl === undefined ? {} : { baseUrl: common.baseUrl }),
      ...(members === undefined ? {} : { members }),
      ...(classifications === undefined ? {} : { classifications }),
    });
  },
} as const;
