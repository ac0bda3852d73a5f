/**
 * Argument validation with one message shape, after sharp's:
 * `Expected integer between 0 and 64 for threshold but received 70 of type number`.
 * Validators return their input so they can wrap an assignment. Wrong types throw `TypeError`,
 * values out of range `RangeError`.
 */

/**
 * `value` as text, whatever it is: `String` throws for an object without a prototype, an array
 * holding one or a symbol, and an object whose `toString` throws, and a bad argument must still
 * get its TypeError in the standard shape.
 */
function text(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return `[${typeof value}]`;
    }
  }
}

function describe(value: unknown): string {
  const shown = text(value);
  return `${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown} of type ${typeof value}`;
}

/** Throws the standard message for `name`, as a TypeError or RangeError. */
export function invalid(expected: string, name: string, value: unknown, range = false): never {
  const message = `Expected ${expected} for ${name} but received ${describe(value)}`;
  throw range ? new RangeError(message) : new TypeError(message);
}

/** An integer in `[min, max]`. */
export function integerInRange(value: unknown, min: number, max: number, name: string): number {
  const expected = `integer between ${min} and ${max}`;
  if (typeof value !== 'number' || !Number.isInteger(value)) invalid(expected, name, value);
  if (value < min || value > max) invalid(expected, name, value, true);
  return value;
}

/** A positive number (not NaN, not infinite) in `(0, max]`. */
export function positiveNumber(value: unknown, max: number, name: string): number {
  const expected = `positive number up to ${max}`;
  if (typeof value !== 'number' || Number.isNaN(value)) invalid(expected, name, value);
  if (!(value > 0 && value <= max)) invalid(expected, name, value, true);
  return value;
}

/** A boolean. */
export function boolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') invalid('boolean', name, value);
  return value;
}

/** A non-empty string of at most `maxLength` characters. */
export function nonEmptyString(value: unknown, name: string, maxLength = 1024): string {
  const expected = `non-empty string of at most ${maxLength} characters`;
  if (typeof value !== 'string') invalid(expected, name, value);
  if (value.length === 0 || value.length > maxLength) invalid(expected, name, value, true);
  return value;
}

/** One of the listed string values. */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    invalid(`one of ${allowed.join(', ')}`, name, value, typeof value === 'string');
  }
  return value as T;
}

/** A plain object (or undefined, returned as an empty object) for an options argument. */
export function optionsObject<T extends object>(value: T | undefined, name: string): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid('object', name, value);
  return value;
}

/**
 * The permission bits of a file hashwarden creates (a store, a snapshot, a list file): an integer
 * 0–0o777, owner-only (0o600) when not given, since the hashes of abuse material are themselves
 * sensitive (docs/security.md).
 */
export function fileMode(value: unknown, name: string): number {
  return value === undefined ? 0o600 : integerInRange(value, 0, 0o777, name);
}
