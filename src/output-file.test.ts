/**
 * Outputs keep the mode and owner of the file they replace (issue 18, finding 3): the rename of
 * the temporary file once left a re-exported snapshot 600 and owned by the writer, and a service
 * of the file's group then failed to reload it. Both writers go through output-file.ts.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lstatSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeEntry } from './lists/entry.js';
import { writeListFile } from './lists/write.js';
import { writeSnapshot } from './snapshot/write.js';
import { codeOf } from './testing/forged-snapshot.js';

const entries = [normalizeEntry({ id: 'a', list: 'l', algorithm: 'md5', hash: '0'.repeat(32) })];
const lists = [{ name: 'l', version: 1 }];

/** The two writers, each given a path and an optional mode. */
const WRITERS: Record<string, (path: string, mode?: number) => Promise<unknown>> = {
  writeSnapshot: (path, mode) => writeSnapshot(path, { lists, entries, mode }),
  writeListFile: (path, mode) => writeListFile(path, () => entries, 'csv', { mode }),
};

const root = process.platform !== 'win32' && process.getuid?.() === 0;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-output-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = (path: string): number => statSync(path).mode & 0o777;
const temporaries = (): string[] => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe.skipIf(process.platform === 'win32')('outputs replacing a file', () => {
  for (const [name, write] of Object.entries(WRITERS)) {
    it(`${name}: a new file is owner-only, a file replaced keeps its mode, an explicit mode wins`, async () => {
      const path = join(dir, `${name}.out`);
      await write(path);
      expect(mode(path)).toBe(0o600);
      for (const kept of [0o640, 0o644, 0o600]) {
        chmodSync(path, kept);
        await write(path);
        expect(mode(path), kept.toString(8)).toBe(kept);
      }
      chmodSync(path, 0o640);
      await write(path, 0o600);
      expect(mode(path)).toBe(0o600);
      await write(path, 0o644);
      expect(mode(path)).toBe(0o644);
    });

    it(`${name}: a symlink at the path is replaced by a new owner-only file, its target untouched`, async () => {
      const target = join(dir, `${name}.target`);
      writeFileSync(target, 'target');
      chmodSync(target, 0o644);
      const link = join(dir, `${name}.link`);
      symlinkSync(target, link);
      await write(link);
      expect(lstatSync(link).isFile()).toBe(true);
      expect(mode(link)).toBe(0o600);
      expect(readFileSync(target, 'utf8')).toBe('target');
      expect(mode(target)).toBe(0o644);
    });

    it.skipIf(!root)(`${name}: a file replaced keeps its owner and group (needs root, to chown)`, async () => {
      const path = join(dir, `${name}.owned`);
      await write(path);
      chownSync(path, 4321, 8765);
      chmodSync(path, 0o640);
      await write(path);
      const stats = statSync(path);
      expect([stats.uid, stats.gid, stats.mode & 0o777]).toEqual([4321, 8765, 0o640]);
      // An explicit mode changes the mode only.
      await write(path, 0o600);
      expect([statSync(path).uid, statSync(path).gid, mode(path)]).toEqual([4321, 8765, 0o600]);
    });
  }

  it.skipIf(!root)(
    'fails, leaving the file whole and no temporary file, when the owner cannot be given (needs root, to run a child as nobody)',
    async () => {
      // A folder anyone may write to, a file of root's in it, and writers running as nobody.
      const shared = join(dir, 'shared');
      execFileSync('mkdir', ['-m', '777', shared]);
      await chmod(dir, 0o755);
      const cwd = fileURLToPath(new URL('..', import.meta.url));
      for (const [name, call, code] of [
        ['snapshot', `writeSnapshot(path, { lists, entries })`, 'ERR_STORE'],
        ['list', `writeListFile(path, () => entries, 'csv')`, 'ERR_OUTPUT_WRITE'],
      ]) {
        const path = join(shared, `${name}.out`);
        writeFileSync(path, 'old');
        chmodSync(path, 0o644);
        const script = `
          import { normalizeEntry } from './src/lists/entry.ts';
          import { writeListFile } from './src/lists/write.ts';
          import { writeSnapshot } from './src/snapshot/write.ts';
          const entries = [normalizeEntry({ id: 'a', list: 'l', algorithm: 'md5', hash: '0'.repeat(32) })];
          const lists = [{ name: 'l', version: 1 }];
          const path = ${JSON.stringify(path)};
          try { await ${call}; console.log('written'); } catch (e) { console.log(e.code ?? String(e)); }`;
        const out = execFileSync(
          process.execPath,
          ['--no-warnings', '--import', 'tsx', '--input-type=module', '-e', script],
          { cwd, uid: 65534, gid: 65534, encoding: 'utf8', env: { ...process.env, HOME: shared } },
        );
        expect(out.trim(), name).toBe(code);
        expect(readFileSync(path, 'utf8'), name).toBe('old');
        expect([statSync(path).uid, mode(path)], name).toEqual([0, 0o644]);
        expect(
          readdirSync(shared).filter((f) => f.endsWith('.tmp')),
          name,
        ).toEqual([]);
      }
    },
  );

  it('leaves no temporary file when the folder does not exist', async () => {
    expect(await codeOf(WRITERS.writeSnapshot!(join(dir, 'missing', 'x.snap')))).toBe('ERR_STORE');
    expect(await codeOf(WRITERS.writeListFile!(join(dir, 'missing', 'x.csv')))).toBe('ERR_OUTPUT_WRITE');
    expect(temporaries()).toEqual([]);
  });
});
