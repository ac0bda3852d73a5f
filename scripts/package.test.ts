/**
 * The package as a user receives it: `npm pack` of the built repository, the tarball installed into
 * a fresh app from npm's cache, then that app imports and requires each entry, runs the CLI through
 * its bin and type-checks against the shipped declarations under each TypeScript module resolution
 * docs/install.md promises. What the repository's own tests cannot see is checked here: the `files`
 * list, the `exports` map, `typesVersions`, that installing builds and compiles nothing, and that
 * better-sqlite3, an optional peer, is absent unless the app installs it.
 *
 * Needs `npm` on PATH and a built dist/ (`npm test` builds first). Runs in CI.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/**
 * Every entry: each must import in an app that installed none of the optional peers (the upload
 * guards and the sidecar load their frameworks on first use, or only their types).
 */
const ENTRIES = [
  'hashwarden',
  'hashwarden/image',
  'hashwarden/sqlite',
  'hashwarden/postgres',
  'hashwarden/express',
  'hashwarden/fastify',
  'hashwarden/web',
  'hashwarden/server',
  'hashwarden/exchanges',
  'hashwarden/seen',
  'hashwarden/video',
] as const;
/** A value each entry exports, by which the test knows it loaded the entry asked for. */
const MAIN_EXPORT = [
  'Matcher',
  'hashImage',
  'HashStore',
  'PgHashStore',
  'uploadGuard',
  'uploadGuard',
  'uploadGuard',
  'createServer',
  'syncExchange',
  'SeenStore',
  'hashVideo',
];

/**
 * The environment of a child npm: without the `npm_*` variables an enclosing `npm test` exports,
 * which would otherwise point the child's install at the repository instead of the app.
 */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
const HAS_NPM = spawnSync('npm', ['--version'], { env: ENV, stdio: 'ignore' }).status === 0;
const NO_NPM = 'npm is not on PATH: the packaging test needs it to pack and install the tarball';
if (!HAS_NPM && process.env.CI) throw new Error(`${NO_NPM}, and CI must run it`);
if (!HAS_NPM) console.warn(`skipped: ${NO_NPM}`);

/** Runs a command in `cwd`, returning its exit status and output instead of throwing. */
async function run(command: string, args: readonly string[], cwd: string) {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, {
      cwd,
      env: ENV,
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { status: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

// Uses every entry's main export in a way only its declared types allow, so that types resolving to
// `any` or not at all fail under `strict` (TS7016) instead of passing quietly.
const TYPED_USE = `import { HashwardenError, Matcher, type Match } from 'hashwarden';
import { hashImage, type HashImageOptions } from 'hashwarden/image';
import { HashStore } from 'hashwarden/sqlite';

const matcher: Matcher = Matcher.fromEntries([{ id: 'x1', list: 'demo', algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427e' }]);
const matches: Match[] = matcher.matchHash({ algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427e' });
const options: HashImageOptions = { algorithms: ['pdq'] };
export const used = [matches[0]?.entryId, hashImage, options, HashStore.open, HashwardenError] as const;
`;

/** The app's scripts: each prints one JSON line the tests read. */
const ESM_APP = `import { Matcher } from 'hashwarden';
import { hashImage } from 'hashwarden/image';
import { HashStore } from 'hashwarden/sqlite';

const matcher = Matcher.fromEntries([{ id: 'x1', list: 'demo', algorithm: 'pdq', hash: 'ff'.repeat(32) }]);
const near = matcher.matchHash({ algorithm: 'pdq', hash: '0f' + 'ff'.repeat(31) }).map(({ entryId, distance }) => ({ entryId, distance }));
const far = matcher.matchHash({ algorithm: 'pdq', hash: '00'.repeat(32) });
let store;
try {
  HashStore.open(new URL('./app.db', import.meta.url).pathname).close();
  store = 'open';
} catch (error) {
  store = error.code;
}
console.log(JSON.stringify({ near, far: far.length, hashImage: typeof hashImage, store }));
`;

const CJS_APP = `const entries = ${JSON.stringify(ENTRIES)}.map((name) => require(name));
console.log(JSON.stringify(entries.map((exports) => Object.keys(exports).sort())));
`;

const TITLE = 'the packed tarball installed into a fresh app';

describe.skipIf(!HAS_NPM)(HAS_NPM ? TITLE : `${TITLE} (skipped: ${NO_NPM})`, () => {
  let work = '';
  let app = '';

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run npm run build first');
    work = mkdtempSync(join(tmpdir(), 'hashwarden-pack-'));
    app = join(work, 'app');
    mkdirSync(app);
    // --ignore-scripts: prepack would build again; the dist/ just built is the one under test.
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
        cwd: ROOT,
        env: ENV,
        encoding: 'utf8',
      }),
    );
    const tarball: string = packed[0].filename;
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'app',
        version: '1.0.0',
        private: true,
        dependencies: { hashwarden: `file:../${tarball}` },
      }),
    );
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], app);
    if (install.status !== 0) throw new Error(`npm install of ${tarball} failed:\n${install.stderr}`);
    writeFileSync(join(app, 'esm.mjs'), ESM_APP);
    writeFileSync(join(app, 'cjs.cjs'), CJS_APP);
    for (const extension of ['mts', 'cts', 'ts']) writeFileSync(join(app, `typed.${extension}`), TYPED_USE);
  }, 180_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs without an install script anywhere and without better-sqlite3', () => {
    // npm marks each package whose install runs a script (install, preinstall, postinstall, gyp).
    const { packages } = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    expect(Object.keys(packages).filter((path) => packages[path]!.hasInstallScript)).toEqual([]);
    expect(Object.keys(packages)).toContain('node_modules/hashwarden');
    expect(Object.keys(packages).filter((path) => path.endsWith('/better-sqlite3'))).toEqual([]);
    // prepare is not in that mark: npm 11 still listed it as a script to allow.
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules', 'hashwarden', 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    expect(Object.keys(manifest.scripts ?? {}).filter((name) => /^(pre|post)?(install|prepare)$/.test(name))).toEqual(
      [],
    );
  });

  it('imports each entry from ESM, matches a hash, and names the missing store dependency', async () => {
    const result = await run(process.execPath, ['esm.mjs'], app);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      near: [{ entryId: 'x1', distance: 4 }],
      far: 0,
      hashImage: 'function',
      store: 'ERR_MISSING_DEPENDENCY',
    });
  });

  it('requires each entry from CommonJS, with the same exports as import', async () => {
    const required = await run(process.execPath, ['cjs.cjs'], app);
    expect(required.stderr).toBe('');
    const imported = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `console.log(JSON.stringify(await Promise.all(${JSON.stringify(ENTRIES)}.map(async (name) => Object.keys(await import(name)).sort()))))`,
      ],
      app,
    );
    const names: string[][] = JSON.parse(required.stdout);
    expect(names).toEqual(JSON.parse(imported.stdout));
    expect(names.map((list, i) => list.includes(MAIN_EXPORT[i]!))).toEqual(ENTRIES.map(() => true));
  });

  it('runs the CLI through its bin', async () => {
    const help = await run(join(app, 'node_modules', '.bin', 'hashwarden'), ['--help'], app);
    expect(help.stderr).toBe('');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: hashwarden <command>/);
  });

  it('type-checks each entry under node16, nodenext, bundler and node10 resolution; a .cts under node16 gets TS1479', async () => {
    const common = [
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      join(ROOT, 'node_modules', '@types'),
    ];
    // Checking the declarations themselves (no --skipLibCheck) means checking all of @types/node too: once is enough.
    const checks = {
      node16: ['--skipLibCheck', '--module', 'node16', '--moduleResolution', 'node16', 'typed.mts', 'typed.cts'],
      nodenext: ['--module', 'nodenext', '--moduleResolution', 'nodenext', 'typed.mts', 'typed.cts'],
      bundler: ['--skipLibCheck', '--module', 'preserve', '--moduleResolution', 'bundler', 'typed.ts'],
      node10: ['--skipLibCheck', '--module', 'commonjs', '--moduleResolution', 'node10', 'typed.ts'],
    };
    const results = await Promise.all(
      Object.values(checks).map((args) => run(process.execPath, [TSC, ...common, ...args], app)),
    );
    const outcome = Object.fromEntries(
      Object.keys(checks).map((name, index) => {
        const { status, stdout } = results[index]!;
        const errors =
          stdout.match(/^\S+\(\d+,\d+\): error TS\d+/gm)?.map((line) => line.replace(/\(\d+,\d+\): error/, '')) ?? [];
        return [name, status === 0 ? 'ok' : errors];
      }),
    );
    // TS1479: TypeScript's rule for an ESM-only package required from CommonJS under node16 (docs/install.md).
    expect(outcome).toEqual({
      node16: ['typed.cts TS1479', 'typed.cts TS1479', 'typed.cts TS1479'],
      nodenext: 'ok',
      bundler: 'ok',
      node10: 'ok',
    });
  }, 120_000);
});
