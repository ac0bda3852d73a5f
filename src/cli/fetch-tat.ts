/**
 * `hashwarden fetch tat`: Tech Against Terrorism's flags, for the `fetch` command
 * (src/cli/fetch.ts) to parse with the common ones (`--db`, `--list`, `--credentials`,
 * `--base-url`, …) and build the client with.
 */
import type { ParseArgsConfig } from 'node:util';
import {
  type ExchangeClient,
  type Secret,
  TAT_APIS,
  TAT_IDEOLOGIES,
  type TatApi,
  type TatIdeology,
  tatExchange,
} from '../exchanges/index.js';
import { UsageError } from './command.js';
import type { FetchProgramme } from './fetch-programme.js';

/** A flag's value, one of `allowed`, or a usage error naming the flag. */
function choice<T extends string>(value: unknown, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`Expected one of ${allowed.join(', ')} for --${flag} but received ${JSON.stringify(value)}`);
}

/**
 * TAT for `hashwarden fetch`: credentials `username` and `password` (`HASHWARDEN_TAT_USERNAME`,
 * `HASHWARDEN_TAT_PASSWORD`, or a credentials file), `--ideology`, `--tat-api`. TAT has no test
 * environment: `--environment` is refused, `--base-url` reaches another server.
 */
export const tatProgramme: FetchProgramme = {
  name: 'tat',
  credentialFields: ['username', 'password'] as const,
  options: {
    ideology: { type: 'string' },
    'tat-api': { type: 'string' },
  } satisfies NonNullable<ParseArgsConfig['options']>,
  help: `Tech Against Terrorism (tat):
  --ideology NAME       islamist, far-right or all (default all)
  --tat-api VERSION     v2: pages with a checkpoint (default); v1: the daily file, whole
  (credentials: username, password; no --environment, TAT has no test environment)`,
  create(
    values: Readonly<Record<string, unknown>>,
    credentials: Readonly<Record<'username' | 'password', Secret>>,
    common: { readonly environment?: string; readonly baseUrl?: string },
  ): ExchangeClient {
    if (common.environment !== undefined) {
      throw new UsageError('TAT has no environments (no test environment): use --base-url to reach another server');
    }
    const ideology = choice<TatIdeology>(values.ideology, TAT_IDEOLOGIES, 'ideology');
    const api = choice<TatApi>(values['tat-api'], TAT_APIS, 'tat-api');
    return tatExchange({
      credentials: { username: credentials.username, password: credentials.password },
      ...(ideology === undefined ? {} : { ideology }),
      ...(api === undefined ? {} : { api }),
      ...(common.baseUrl === undefined ? {} : { baseUrl: common.baseUrl }),
    });
  },
};
