/**
 * `hashwarden fetch stopncii` and `hashwarden feedback stopncii`: StopNCII.org's flags, for the
 * `fetch` command (src/cli/fetch.ts) to parse with the common ones and build the client with.
 */
import type { ParseArgsConfig } from 'node:util';
import { type ExchangeClient, type Secret, stopnciiExchange } from '../exchanges/index.js';
import { UsageError } from './command.js';
import type { FetchProgramme } from './fetch-programme.js';

/** Most records a page may be asked for (`--page-size`), as `stopnciiExchange` takes. */
const MAX_PAGE_SIZE = 10_000;

/**
 * StopNCII.org for `hashwarden fetch`: credentials `subscriptionKey` and `fetchFunctionKey`
 * (`HASHWARDEN_STOPNCII_SUBSCRIPTION_KEY`, `HASHWARDEN_STOPNCII_FETCH_FUNCTION_KEY`, or a
 * credentials file), and for `hashwarden feedback` `subscriptionKey` and `feedbackFunctionKey`
 * (`feedbackCredentialFields`: the feedback endpoint has a key of its own); `--page-size`.
 * StopNCII has one service: `--environment` is refused, `--base-url` reaches another server.
 *
 * @example
 * ```ts
 * const client = stopnciiProgramme.create({ 'page-size': '500' }, credentials, {});
 * ```
 */
export const stopnciiProgramme: FetchProgramme = {
  name: 'stopncii',
  credentialFields: ['subscriptionKey', 'fetchFunctionKey'] as const,
  feedbackCredentialFields: ['subscriptionKey', 'feedbackFunctionKey'] as const,
  options: {
    'page-size': { type: 'string' },
  } satisfies NonNullable<ParseArgsConfig['options']>,
  help: `StopNCII.org (stopncii):
  --page-size N         records per FetchHashes page, 1 to ${MAX_PAGE_SIZE} (default 800)
  (credentials: subscriptionKey, fetchFunctionKey; feedback: subscriptionKey, feedbackFunctionKey;
  no --environment, StopNCII has one service; feedback sends up as Blocked, down as NotBlocked,
  the reason as a tag)`,
  create(
    values: Readonly<Record<string, unknown>>,
    credentials: Readonly<Record<string, Secret>>,
    common: { readonly environment?: string; readonly baseUrl?: string },
  ): ExchangeClient {
    if (common.environment !== undefined) {
      throw new UsageError(
        'StopNCII has no environments (no test environment): use --base-url to reach another server',
      );
    }
    const size = values['page-size'];
    let pageSize: number | undefined;
    if (size !== undefined) {
      pageSize = typeof size === 'string' && /^\d{1,6}$/.test(size) ? Number(size) : Number.NaN;
      if (!(pageSize >= 1 && pageSize <= MAX_PAGE_SIZE)) {
        throw new UsageError(
          `Expected an integer from 1 to ${MAX_PAGE_SIZE} for --page-size but received ${JSON.stringify(size)}`,
        );
      }
    }
    const { subscriptionKey, fetchFunctionKey, feedbackFunctionKey } = credentials;
    if (subscriptionKey === undefined) throw new UsageError('No StopNCII subscriptionKey');
    return stopnciiExchange({
      credentials: {
        subscriptionKey,
        ...(fetchFunctionKey === undefined ? {} : { fetchFunctionKey }),
        ...(feedbackFunctionKey === undefined ? {} : { feedbackFunctionKey }),
      },
      ...(common.baseUrl === undefined ? {} : { baseUrl: common.baseUrl }),
      ...(pageSize === undefined ? {} : { pageSize }),
    });
  },
};
