/**
 * `hashwarden fetch ncmec`: NCMEC's flags (`--member`, `--classification`) and how they make the
 * connector; `hashwarden fetch` (src/cli/fetch.ts) adds the flags every programme shares
 * (`--db`, `--list`, `--credentials`, `--environment`, `--base-url`, …) and runs the sync.
 */
import type { ParseArgsConfig } from 'node:util';
import {
  type ExchangeClient,
  NCMEC_ENVIRONMENTS,
  type NcmecEnvironment,
  ncmecExchange,
  type Secret,
} from '../exchanges/index.js';
import { UsageError } from './command.js';
import type { FetchProgramme } from './fetch-programme.js';

/** A member id from `--member`: a whole number (NCMEC's ESP ids), or a usage error. */
function memberId(value: string): number {
  const trimmed = value.trim();
  if (!/^\d{1,15}$/.test(trimmed)) {
    throw new UsageError(`Expected a member id (a whole number) for --member but received ${JSON.stringify(value)}`);
  }
  return Number(trimmed);
}

/** `--member 42,43 --member 44`: each flag may list several, comma-separated. */
function listed(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const values = Array.isArray(value) ? value.map(String) : [String(value)];
  return values.flatMap((v) => v.split(',')).filter((v) => v.trim() !== '');
}

/**
 * NCMEC for `hashwarden fetch` and `hashwarden feedback`: credentials `username` and `password`
 * (`HASHWARDEN_NCMEC_USERNAME`, `HASHWARDEN_NCMEC_PASSWORD`, or a credentials file),
 * `--environment` one of NCMEC's (default `Industry`), `--member`, `--classification`.
 */
export const ncmecProgramme: FetchProgramme = {
  name: 'ncmec',
  credentialFields: ['username', 'password'] as const,
  options: {
    member: { type: 'string', multiple: true },
    classification: { type: 'string', multiple: true },
  } satisfies NonNullable<ParseArgsConfig['options']>,
  help: `NCMEC hash-sharing API v2 (ncmec):
  --environment E         ${Object.keys(NCMEC_ENVIRONMENTS).join(', ')} (default Industry; test_… is NCMEC's test system)
  --member ID[,ID]        only records shared by these members (ESP ids); repeatable
  --classification C[,C]  only records of these classifications (A1, A2, B1, B2); a record reclassified
                          out of them is removed; repeatable
  feedback: --vote up, or --vote down --reason (a reason's name or guid; none when NCMEC offers one)`,
  create(
    values: Readonly<Record<string, unknown>>,
    credentials: Readonly<Record<string, Secret>>,
    common: { readonly environment?: string; readonly baseUrl?: string },
  ): ExchangeClient {
    const members = listed(values.member)?.map(memberId);
    const classifications = listed(values.classification)?.map((c) => c.trim());
    if (common.environment !== undefined && !Object.hasOwn(NCMEC_ENVIRONMENTS, common.environment)) {
      throw new UsageError(
        `Expected one of ${Object.keys(NCMEC_ENVIRONMENTS).join(', ')} for --environment but received ${JSON.stringify(common.environment)}`,
      );
    }
    return ncmecExchange({
      credentials: { username: credentials.username ?? '', password: credentials.password ?? '' },
      ...(common.environment === undefined ? {} : { environment: common.environment as NcmecEnvironment }),
      ...(common.baseUrl === undefined ? {} : { baseUrl: common.baseUrl }),
      ...(members === undefined ? {} : { members }),
      ...(classifications === undefined ? {} : { classifications }),
    });
  },
};
