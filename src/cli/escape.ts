/**
 * What the CLI prints of what it did not write itself (file names, ids, labels, list names,
 * metadata, error messages quoting them) is made unable to move the cursor, clear or forge lines, or
 * reorder text on a terminal or in a log. Text lines escape such characters reversibly; JSON lines
 * escape them as `\uXXXX`, which JSON.parse reads back to the same value.
 */

/**
 * Characters past C0 that a terminal or log viewer acts on rather than shows: DEL and the C1
 * controls (CSI at U+009B starts an escape sequence on some terminals), the line and paragraph
 * separators (new lines to JavaScript and some viewers), and the bidi controls, which reorder the
 * text around them ("Trojan Source"). A regular-expression class body.
 */
const ACTIVE_BEYOND_C0 = '\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';

/**
 * The backslash (so that every escape reads back to one character), C0 controls, the characters
 * above, and lone surrogates (written out as U+FFFD, which would hide what the data held).
 * Matched by code unit (no `u` flag) so that a surrogate is seen alone.
 */
const UNPRINTABLE = new RegExp(
  `[\\\\\\x00-\\x1f${ACTIVE_BEYOND_C0}]|[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]`,
  'g',
);

const ACTIVE_IN_JSON = new RegExp(`[${ACTIVE_BEYOND_C0}]`, 'g');

const NAMED: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function hex(char: string, digits: number): string {
  return char.charCodeAt(0).toString(16).padStart(digits, '0');
}

/**
 * `text` with nothing a terminal acts on: backslash, newline, carriage return and tab as `\\`,
 * `\n`, `\r`, `\t`; other C0 controls and DEL as `\xHH` (ESC is `\x1b`); C1 controls, the line
 * and paragraph separators, bidi controls and lone surrogates as `\uHHHH`. The escapes are those
 * of a JavaScript string literal, so the text reads back exactly; accents, CJK and emoji are kept.
 *
 * @example
 * ```ts
 * printable('a\x1b[2K\rb'); // 'a\\x1b[2K\\rb'
 * ```
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (char) => {
    const code = char.charCodeAt(0);
    return NAMED[char] ?? (code < 0x20 || code === 0x7f ? `\\x${hex(char, 2)}` : `\\u${hex(char, 4)}`);
  });
}

/**
 * One line of text output: `text` made printable (so it stays one line), then a newline.
 * Callers pass the whole line: escaping is per character, so a line escaped whole is its parts
 * escaped one by one, and nothing can be left out.
 *
 * @example
 * ```ts
 * io.out(textLine(`imported ${file} into list ${list}`));
 * ```
 */
export function textLine(text: string): string {
  return `${printable(text)}\n`;
}

/**
 * JSON text (as JSON.stringify writes it, any number of lines) with DEL, C1 controls, the line and
 * paragraph separators and bidi controls inside its strings written `\uXXXX`. JSON.stringify
 * escapes C0 and lone surrogates itself, and without indentation writes none of these characters
 * outside a string, so the text parses back to the same value.
 *
 * @example
 * ```ts
 * io.out(escapeJson(formatList(rows, 'ndjson')));
 * ```
 */
export function escapeJson(json: string): string {
  return json.replace(ACTIVE_IN_JSON, (char) => `\\u${hex(char, 4)}`);
}

/**
 * `value` as one line of JSON output: JSON.stringify, then `escapeJson`, then a newline. Parsed,
 * the line is `value` exactly.
 *
 * @example
 * ```ts
 * io.out(jsonLine({ file, error }));
 * ```
 */
export function jsonLine(value: unknown): string {
  return `${escapeJson(JSON.stringify(value))}\n`;
}
