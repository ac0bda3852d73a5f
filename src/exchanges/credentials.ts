/**
 * Credentials of the hash-sharing programmes, from a file or the environment, held so that they
 * cannot be printed or logged by accident: a {@link Secret} shows `[redacted]` to `String()`,
 * `JSON.stringify`, `util.inspect` and `console.log`; only `reveal()` gives the value, at the one
 * place a request is built.
 */
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { HashwardenError } from '../errors.js';
import { invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import { EXCHANGE_NAMES, type ExchangeName } from './types.js';

/**
 * A credential's value, hidden from every way an object is turned into text.
 *
 * @example
 * ```ts
 * const key = new Secret(process.env.KEY ?? '');
 * console.log(key);              // Secret [redacted]
 * headers['x-key'] = key.reveal();
 * ```
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    if (typeof value !== 'string') invalid('string', 'value', value);
    this.#value = value;
  }

  /** The value itself: for the request that carries it, nothing else. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'Secret [redacted]';
  }
}

/** A credential given by the caller: the value, or a {@link Secret} holding it. */
export type CredentialValue = string | Secret;

/**
 * Where {@link readCredentials} looks, in order: `file`, then for each field the environment
 * variable `HASHWARDEN_<PROGRAMME>_<FIELD>`, then `HASHWARDEN_<PROGRAMME>_<FIELD>_FILE` (the path
 * of a file holding only that value, as container secrets are mounted).
 *
 * @example
 * ```ts
 * await readCredentials('ncmec', ['username', 'password'], { file: '/run/secrets/ncmec.json' });
 * ```
 */
export interface CredentialSource {
  /** A JSON file holding an object with the programme's fields (`{"username": …, "password": …}`). */
  readonly file?: string;
  /** The environment to read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** `subscriptionKey` → `SUBSCRIPTION_KEY`: a field's part of its environment variable's name. */
function envName(programme: ExchangeName, field: string): string {
  return `HASHWARDEN_${programme.toUpperCase()}_${field.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

function credentialsError(message: string, cause?: unknown): HashwardenError {
  return new HashwardenError('ERR_EXCHANGE_CREDENTIALS', message, cause === undefined ? undefined : { cause });
}

/** A file's text; the error names the file and who pointed to it, never the contents. */
async function readSecretFile(path: string, from: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw credentialsError(`Cannot read the credentials file ${path} (${from}): ${(error as Error).message}`, error);
  }
}

/**
 * Reads a programme's credentials (see {@link CredentialSource} for where). Every field must be a
 * non-empty string; surrounding white space (a file's final newline) is dropped. Throws
 * `ERR_EXCHANGE_CREDENTIALS` naming the file or variables and the missing field, never a value.
 *
 * @example
 * ```ts
 * const { username, password } = await readCredentials('ncmec', ['username', 'password']);
 * ```
 */
export async function readCredentials<F extends string>(
  programme: ExchangeName,
  fields: readonly F[],
  source?: CredentialSource,
): Promise<Readonly<Record<F, Secret>>> {
  oneOf(programme, EXCHANGE_NAMES, 'programme');
  if (!Array.isArray(fields as unknown) || fields.length === 0)
    invalid('non-empty array of field names', 'fields', fields);
  for (const field of fields) nonEmptyString(field, 'fields[]', 64);
  const o = optionsObject(source, 'source');
  if (o.env !== undefined && (o.env === null || typeof o.env !== 'object')) invalid('object', 'env', o.env);
  const env = o.env ?? process.env;
  let fromFile: Record<string, unknown> | undefined;
  if (o.file !== undefined) {
    if (typeof o.file !== 'string' || o.file === '') invalid('non-empty string', 'file', o.file);
    const text = await readSecretFile(o.file, 'credentials');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // JSON.parse's message quotes the text around the fault: the secret itself.
      throw credentialsError(`The credentials file ${o.file} is not JSON`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw credentialsError(`The credentials file ${o.file} does not hold a JSON object of ${fields.join(', ')}`);
    }
    fromFile = parsed as Record<string, unknown>;
  }
  const result: Partial<Record<F, Secret>> = {};
  for (const field of fields) {
    let value: unknown;
    let where: string;
    if (fromFile !== undefined) {
      value = fromFile[field];
      where = `field ${JSON.stringify(field)} of ${o.file}`;
    } else {
      const name = envName(programme, field);
      const path = env[`${name}_FILE`];
      if (env[name] !== undefined) {
        value = env[name];
        where = `$${name}`;
      } else if (path !== undefined && path !== '') {
        value = await readSecretFile(path, `$${name}_FILE`);
        where = `the file ${path} ($${name}_FILE)`;
      } else {
        throw credentialsError(
          `No ${programme} ${field}: set $${name} (or $${name}_FILE to a file holding it), or give a credentials file`,
        );
      }
    }
    if (typeof value !== 'string' || value.trim() === '') {
      throw credentialsError(`The ${programme} ${field} from ${where} is missing or not a non-empty string`);
    }
    result[field] = new Secret(value.trim());
  }
  return result as Readonly<Record<F, Secret>>;
}

/**
 * A credential given to a factory, as a {@link Secret}: a string is wrapped; anything else is a
 * TypeError naming the option (never its value).
 *
 * @internal For the programmes' factories.
 */
export function toSecret(value: unknown, name: string): Secret {
  if (value instanceof Secret) return value;
  if (typeof value === 'string' && value !== '') return new Secret(value);
  throw new TypeError(`Expected non-empty string or Secret for ${name} but received ${typeof value}`);
}
