/**
 * Walks every exported function and static factory of the package's entries and calls each with no
 * arguments, wrong types, a directory, a missing file and an empty file: each call either
 * succeeds or fails with a HashwardenError, TypeError or RangeError, within a time bound. The
 * entries are iterated, not listed, so a new export is walked as soon as it exists.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from './errors.js';

const ENTRIES = {
  hashwarden: './index.js',
  'hashwarden/image': './image/index.js',
  'hashwarden/sqlite': './store/index.js',
  'hashwarden/postgres': './postgres/index.js',
  'hashwarden/express': './express/index.js',
  'hashwarden/fastify': './fastify/index.js',
  'hashwarden/web': './web/index.js',
  'hashwarden/exchanges': './exchanges/index.js',
  'hashwarden/seen': './seen/index.js',
  'hashwarden/video': './video/index.js',
} as const;

/** Longest a call may take before it counts as a hang. */
const CALL_MS = 5000;

type Callable = { readonly name: string; readonly call: (...args: unknown[]) => unknown };

function isClass(value: unknown): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(value));
}

/** The exported functions of `module`, and the static methods of its exported classes. */
function callables(entry: string, module: Record<string, unknown>): Callable[] {
  const out: Callable[] = [];
  for (const [name, value] of Object.entries(module)) {
    if (typeof value !== 'function') continue;
    if (!isClass(value)) {
      out.push({ name: `${entry}: ${name}`, call: (...args) => (value as (...a: unknown[]) => unknown)(...args) });
      continue;
    }
    for (const method of Object.getOwnPropertyNames(value)) {
      const member = (value as unknown as Record<string, unknown>)[method];
      if (method === 'prototype' || typeof member !== 'function') continue;
      out.push({
        name: `${entry}: ${name}.${method}`,
        call: (...args) => (member as (...a: unknown[]) => unknown).apply(value, args),
      });
    }
  }
  return out;
}

/**
 * Runs `call` to the end of its first step: awaits a promise, pulls one item of an iterator,
 * closes whatever it opened. Resolves to the failure, or undefined on success.
 */
async function settle(call: () => unknown): Promise<unknown> {
  try {
    let result = call();
    if (result instanceof Promise) result = await result;
    if (result !== null && typeof result === 'object') {
      const r = result as Record<string | symbol, unknown>;
      if (typeof r[Symbol.asyncIterator] === 'function' && typeof r.next === 'function') {
        const iterator = result as AsyncGenerator;
        try {
          await iterator.next();
        } finally {
          await iterator.return?.(undefined);
        }
      }
      if (typeof r.close === 'function') await (r.close as () => unknown).call(result);
    }
    return undefined;
  } catch (error) {
    return error;
  }
}

async function bounded(call: () => unknown): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise(
    (resolve) => (timer = setTimeout(() => resolve(new Error(`no answer within ${CALL_MS} ms`)), CALL_MS)),
  );
  try {
    return await Promise.race([settle(call), hang]);
  } finally {
    clearTimeout(timer);
  }
}

let dir: string;
let count = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-public-'));
  mkdirSync(join(dir, 'a-directory'));
  writeFileSync(join(dir, 'empty-file'), '');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The argument lists every callable gets; paths are made fresh per call (a store may be created). */
function argumentLists(): [string, unknown[]][] {
  return [
    ['no arguments', []],
    ['a number', [42]],
    ['an empty object', [{}]],
    ['null', [null]],
    ['a symbol', [Symbol('x')]],
    ['a directory', [join(dir, 'a-directory')]],
    ['a missing file', [join(dir, `missing-${++count}`, 'file.bin')]],
    ['an empty file', [join(dir, 'empty-file')]],
    ['the empty file and null', [join(dir, 'empty-file'), null]],
    ['the empty file and a symbol', [join(dir, 'empty-file'), Symbol('x')]],
    ['the directory and an empty object', [join(dir, 'a-directory'), {}]],
    ['a string and a number', ['ff', 42]],
    ['two empty byte arrays', [new Uint8Array(0), new Uint8Array(0)]],
    ['an empty object twice', [{}, {}]],
  ];
}

describe('every public function and static factory', () => {
  it.each(Object.entries(ENTRIES))(
    'of %s fails only with HashwardenError, TypeError or RangeError, and answers in time',
    async (entry, path) => {
      const module = (await import(path)) as Record<string, unknown>;
      const found = callables(entry, module);
      expect(found.length).toBeGreaterThan(0);
      const wrong: string[] = [];
      for (const { name, call } of found) {
        for (const [label, args] of argumentLists()) {
          const error = await bounded(() => call(...args));
          if (
            error === undefined ||
            error instanceof HashwardenError ||
            error instanceof TypeError ||
            error instanceof RangeError
          )
            continue;
          const shown = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
          wrong.push(`${name}(${label}) -> ${shown.split('\n')[0]}`);
        }
      }
      expect(wrong).toEqual([]);
    },
    120_000,
  );
});
