/**
 * `hashwarden fetch stopncii` and `hashwarden feedback stopncii`: StopNCII.org's flags, credentials
 * and client (src/exchanges/stopncii.ts), in the shape `hashwarden fetch` drives each programme.
 */
import type { ParseArgsConfig } from 'node:util';
import type { Secret } from '../exchanges/credentials.js';
import { stopnciiExchange } from '../exchanges/stopncii.js';
import type { ExchangeClient, ExchangeName } from '../exchanges/types.js';
import { integerInRange, invalid } from '../validate.js';

/**
 * One programme as the CLI drives it (the shape of `FetchProgramme` in fetch-programme.ts, kept
 * here until that file is on this branch).
 */
interface StopnciiFetchProgramme {
  readonly name: ExchangeName;
  readonly credentialFields: readonly string[];
  /** The fields `hashwarden feedback` reads instead: the feedback endpoint has a key of its own. */
  readonly feedbackCredentialFields: readonly string[];
  readonly options: NonNullable<ParseArgsConfig['options']>;
  readonly help: string;
  create(
    values: Record<string, string | boolean | string[] | undefined>,
    credentials: Readonly<Record<string, Secret>>,
    common: { readonly environment?: string; readonly baseUrl?: string },
  ): ExchangeClient;
}

/**
 * StopNCII.org for `hashwarden fetch` and `hashwarden feedback`: credentials `subscriptionKey` and
 * `fetchFunctionKey` (`feedbackFunctionKey` for feedback), the flag `--page-size`; no environments
 * (`--base-url` points elsewhere).
 *
 * @example
 * ```ts
 * const client = stopnciiProgramme.create({ 'page-size': '500' }, credentials, {});
 * ```
 */
export const stopnciiProgramme: StopnciiFetchProgramme = {
  name: 'stopncii',
  credentialFields: ['subscriptionKey', 'fetchFunctionKey'],
  feedbackCredentialFields: ['subscriptionKey', 'feedbackFunctionKey'],
  options: { 'page-size': { type: 'string' } },
  help: `
StopNCII.org (credentials: subscriptionKey, fetchFunctionKey; feedback: feedbackFunctionKey;
or $HASHWARDEN_STOPNCII_SUBSCRIPTION_KEY, …_FETCH_FUNCTION_KEY, …_FEEDBACK_FUNCTION_KEY):
  --page-size N      records per FetchHashes page, 1 to 10000 (default 800)
  no --environment: StopNCII has one service (--base-url for a proxy)
  feedback: --vote up sends Blocked, down NotBlocked; --reason is sent as a tag`,
  create(values, credentials, common) {
    if (common.environment !== undefined) invalid('no environment (StopNCII has one service)', 'environment', common.environment, true);
    const pageSize = values['page-size'];
    if (pageSize !== undefined && (typeof pageSize !== 'string' || !/^\d+$/.test(pageSize)))
      invalid('integer between 1 and 10000', 'page-size', pageSize, true);
    return stopnciiExchange({
      credentials: {
        subscriptionKey: credentials.subscriptionKey as Secret,
        ...(credentials.fetchFunctionKey === undefined ? {} : { fetchFunctionKey: credentials.fetchFunctionKey }),
        ...(credentials.feedbackFunctionKey === undefined ? {} : { feedbackFunctionKey: credentials.feedbackFunctionKey }),
      },
      ...(common.baseUrl === undefined ? {} : { baseUrl: common.baseUrl }),
      ...(pageSize === undefined ? {} : { pageSize: integerInRange(Number(pageSize), 1, 10_000, 'page-size') }),
    });
  },
};
