/**
 * `hashwarden fetch threatexchange`: the flags of Meta's ThreatExchange (the privacy group, the
 * indicator types, the page size) and the client they make. The common flags (`--db`, `--list`,
 * `--credentials`, `--environment`, `--base-url`, …) are src/cli/fetch.ts's.
 */
import type { Secret } from '../exchanges/credentials.js';
import { threatExchange } from '../exchanges/threatexchange.js';
import type { ExchangeClient } from '../exchanges/types.js';
import { commaList, integerArgument, required, UsageError } from './command.js';
import type { CommonFetchFlags, FetchProgramme, FlagValues } from './fetch-programme.js';

/**
 * ThreatExchange for `hashwarden fetch`: `--privacy-group ID` (required), `--types T,T`,
 * `--page-size N`; the credential `accessToken` (`$HASHWARDEN_THREATEXCHANGE_ACCESS_TOKEN`).
 *
 * @example
 * ```ts
 * const client = threatexchangeProgramme.create({ 'privacy-group': '1234567890' }, { accessToken }, {});
 * ```
 */
export const threatexchangeProgramme: FetchProgramme = {
  name: 'threatexchange',
  credentialFields: ['accessToken'],
  options: {
    'privacy-group': { type: 'string' },
    types: { type: 'string' },
    'page-size': { type: 'string' },
  },
  help: [
    '  --privacy-group ID   ThreatExchange privacy group to fetch (its Graph API id; required)',
    '  --types T,T          only these indicator types, filtered by the server (HASH_PDQ,HASH_MD5,',
    '                       HASH_SHA1,HASH_SHA256,HASH_VIDEO_MD5); default all, unusable ones ignored',
    '  --page-size N        records per threat_updates page (1-1000, default 100)',
    '  credentials: accessToken (an app token, <app id>|<app secret>), from --credentials FILE',
    '  or $HASHWARDEN_THREATEXCHANGE_ACCESS_TOKEN(_FILE); --environment is the Graph API version (v21.0)',
  ].join('\n'),
  create(values: FlagValues, credentials: Readonly<Record<string, Secret>>, common: CommonFetchFlags): ExchangeClient {
    const privacyGroup = required(values['privacy-group'], '--privacy-group');
    const types = commaList(values.types as string | undefined);
    const pageSize = values['page-size'] === undefined ? undefined : integerArgument(String(values['page-size']));
    try {
      return threatExchange({
        credentials: { accessToken: credentials.accessToken as Secret },
        privacyGroup,
        environment: common.environment,
        baseUrl: common.baseUrl,
        types,
        pageSize,
      });
    } catch (error) {
      // A bad flag is a usage error; a bad token stays ERR_EXCHANGE_CREDENTIALS.
      if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message);
      throw error;
    }
  },
};
