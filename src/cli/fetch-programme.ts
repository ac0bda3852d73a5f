/**
 * What `hashwarden fetch` and `hashwarden feedback` need of each hash-sharing programme: its
 * credentials' fields, its own flags and their help, and how those make a client. One file per
 * programme (fetch-ncmec.ts, …) exports one of these; fetch.ts lists them.
 */
import type { ParseArgsConfig } from 'node:util';
import type { ExchangeClient, ExchangeName, Secret } from '../exchanges/index.js';

/** The values parseArgs gave a command. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** The flags every programme shares, as the programme's `create` gets them. */
export interface CommonFetchFlags {
  /** `--environment`: the programme's environment name (its test environment among them). */
  readonly environment?: string;
  /** `--base-url`: the service's URL instead of the environment's (a proxy, a stand-in). */
  readonly baseUrl?: string;
}

/** One programme as the CLI drives it. */
export interface FetchProgramme {
  readonly name: ExchangeName;
  /** The credentials' fields, read with `readCredentials` (file, or `HASHWARDEN_<NAME>_<FIELD>`). */
  readonly credentialFields: readonly string[];
  /** The programme's own flags (parseArgs options): filters and the like. */
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** Help lines for those flags, and the programme's environments. */
  readonly help: string;
  /** The client, from the flags, the credentials and the shared flags. */
  create(values: FlagValues, credentials: Readonly<Record<string, Secret>>, common: CommonFetchFlags): ExchangeClient;
}
