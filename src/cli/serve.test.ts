/**
 * `hashwarden serve` as a process (the built CLI when there is one, `npm test` builds first): it
 * prints one JSON line with the URL it listens on, becomes ready, answers a lookup, loads sharp
 * only with the first upload hashed (seen in /proc/PID/maps, skipped without /proc), and exits 0
 * after a graceful shutdown on SIGTERM. Usage mistakes exit 2 in process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSnapshot } from '../index.js';
import { cli } from '../testing/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = existsSync(join(ROOT, 'dist/cli/main.js')) ? ['dist/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
const IMAGE = readFileSync(join(ROOT, 'test-vectors/images/terrain-333x250.jpg'));
const TOKEN = 'cli-test-token-5d2b';
const md5 = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('hex');

let dir: string;
let snapshot: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-serve-cli-'));
  snapshot = join(dir, 'lists.snap');
  await writeSnapshot(snapshot, {
    lists: [{ name: 'TEST_BANK', version: 1 }],
    entries: [{ id: '7', list: 'TEST_BANK', algorithm: 'md5', hash: md5(IMAGE) }],
  });
  await writeFile(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
});

afterAll(async () => {
  child?.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const sharpMapped = (pid: number): boolean => readFileSync(`/proc/${pid}/maps`, 'utf8').includes('sharp');

/** `hashwarden serve` of the snapshot with two workers and `more`, once both listen; its lines and their URLs. */
async function serveWorkers(more: string[]) {
  const args = ['serve', '--snapshot', snapshot, '--port', '0', '--workers', '2', ...more];
  const workers = spawn(process.execPath, [...CLI, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = workers;
  const exited = new Promise<number | null>((resolve) => workers.once('exit', (code) => resolve(code)));
  const urls: string[] = [];
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: workers.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      lines.push(line);
      const event = JSON.parse(line) as { msg?: string; url?: string };
      if (event.msg === 'listening' && event.url !== undefined) urls.push(event.url);
      if (urls.length === 2) resolve();
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${lines.join('\n')}`)));
  });
  return { workers, exited, urls, lines };
}

describe('hashwarden serve', () => {
  it('prints its URL, gets ready, loads sharp with the first upload only, and exits 0 on SIGTERM', async () => {
    child = spawn(
      process.execPath,
      [...CLI, 'serve', '--snapshot', snapshot, '--port', '0', '--token-file', join(dir, 'token')],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    const lines: string[] = [];
    const listening = new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child?.stdout as NodeJS.ReadableStream });
      rl.on('line', (line) => {
        lines.push(line);
        const event = JSON.parse(line) as { msg?: string; url?: string };
        if (event.msg === 'listening' && event.url !== undefined) resolve(event.url);
      });
      void exited.then((code) => reject(new Error(`exited ${code} before listening: ${lines.join('\n')}`)));
    });
    const base = await listening;
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const end = Date.now() + 10_000;
    while ((await fetch(`${base}/readyz`)).status !== 200) {
      if (Date.now() > end) throw new Error('not ready within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${base}/c/banks`)).status).toBe(401);
    expect(
      await (await fetch(`${base}/m/lookup?signal_type=md5&signal=${md5(IMAGE)}`, { headers: auth })).json(),
    ).toEqual({
      TEST_BANK: [{ bank_content_id: 7, distance: '0' }],
    });
    const pid = child.pid as number;
    const proc = existsSync(`/proc/${pid}/maps`);
    if (proc) expect(sharpMapped(pid)).toBe(false);
    const body = new FormData();
    body.append('photo', new Blob([IMAGE]), 'terrain.jpg');
    const looked = await fetch(`${base}/m/lookup`, { method: 'POST', body, headers: auth });
    expect(looked.status).toBe(200);
    expect(((await looked.json()) as { md5: unknown }).md5).toEqual({
      TEST_BANK: [{ bank_content_id: 7, distance: '0' }],
    });
    if (proc) expect(sharpMapped(pid)).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
    expect(lines.filter((l) => l.includes('"msg":"listening"'))).toHaveLength(1);
    expect(lines.some((l) => l.includes(TOKEN))).toBe(false);
  }, 30_000);

  it('runs --workers processes on one port, each with the lists, and stops them all on SIGTERM with exit 0', async () => {
    const { workers, exited, urls, lines } = await serveWorkers([]);
    // One port for both: the primary holds it, the workers take its connections.
    expect(urls[0]).toBe(urls[1]);
    const base = urls[0] as string;
    const end = Date.now() + 10_000;
    while ((await fetch(`${base}/readyz`)).status !== 200) {
      if (Date.now() > end) throw new Error('not ready within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await (await fetch(`${base}/m/lookup?signal_type=md5&signal=${md5(IMAGE)}`)).json()).toEqual({
      TEST_BANK: [{ bank_content_id: 7, distance: '0' }],
    });
    workers.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
    expect(lines.filter((l) => l.includes('"msg":"shutdown"'))).toHaveLength(3);
    // Workers that cannot load the lists stop the whole command with exit 2, none left behind.
    const failing = spawn(
      process.execPath,
      [...CLI, 'serve', '--snapshot', join(dir, 'none.snap'), '--port', '0', '--workers', '2'],
      {
        cwd: ROOT,
        stdio: 'ignore',
      },
    );
    expect(await new Promise((resolve) => failing.once('exit', resolve))).toBe(2);
  }, 30_000);

  it('with --workers 2 and --log, holds a storm in each worker, releases it in all, and writes a chain per worker', async () => {
    const logDir = join(dir, 'decisions');
    const { workers, exited, urls, lines } = await serveWorkers([
      '--token-file',
      join(dir, 'token'),
      '--log',
      logDir,
      '--storm-threshold',
      '2',
      '--storm-hold',
    ]);
    const base = urls[0] as string;
    // Each request on a connection of its own: the primary hands connections to the workers in turn.
    const call = (path: string, method = 'GET', body?: unknown, token: string | null = TOKEN) =>
      new Promise<{ status: number; json: any }>((resolve, reject) => {
        const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
        if (token !== null) headers.authorization = `Bearer ${token}`;
        const req = request(`${base}${path}`, { method, headers, agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    const lookup = `/m/lookup?signal_type=md5&signal=${md5(IMAGE)}`;
    /** The /storms of each worker, asked until both answered (at most 40 connections). */
    const stormsOfEach = async () => {
      const seen = new Map<number, any>();
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        const answer = await call('/storms');
        expect(answer.status).toBe(200);
        seen.set(answer.json.worker, answer.json);
      }
      return seen;
    };
    expect((await call('/storms', 'GET', undefined, null)).status).toBe(401);
    // Until each worker has matched twice: its storm raised and held.
    const held = new Set<number>();
    for (let i = 0; i < 40 && held.size < 2; i++) {
      await call(lookup);
      for (const [worker, answer] of await stormsOfEach())
        if (answer.storms.some((s: { held: boolean }) => s.held)) held.add(worker);
    }
    expect([...held].sort()).toEqual([1, 2]);
    for (const answer of (await stormsOfEach()).values()) {
      expect(answer.scope).toBe('process');
      expect(answer.storms).toEqual([expect.objectContaining({ list: 'TEST_BANK', entryId: '7', held: true })]);
    }
    const release = await call('/storms/release', 'POST', { list: 'TEST_BANK', algorithm: 'md5', entryId: '7' });
    expect(release).toEqual({ status: 200, json: { processes: 2, released: 2 } });
    // Every worker blocks on the entry again.
    for (let i = 0; i < 6; i++)
      expect((await call(lookup)).json).toEqual({ TEST_BANK: [{ bank_content_id: 7, distance: '0' }] });
    const after = await stormsOfEach();
    expect([...after.keys()].sort()).toEqual([1, 2]);
    for (const answer of after.values())
      expect(answer.storms).toEqual([expect.objectContaining({ held: false, released: true })]);
    workers.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
    expect(lines.filter((l) => l.includes('"event":"storm"'))).toHaveLength(2);
    // One chain per worker, each proved, each with its storm raised and released.
    expect((await readdir(logDir)).sort()).toEqual(['worker-1', 'worker-2']);
    for (const worker of ['worker-1', 'worker-2']) {
      const verified = await cli('log', 'verify', join(logDir, worker), '--json');
      expect(verified.status).toBe(0);
      expect(JSON.parse(verified.out)).toMatchObject({ ok: true });
      const [file] = await readdir(join(logDir, worker));
      const records = (await readFile(join(logDir, worker, file as string), 'utf8'))
        .split('\n')
        .slice(0, -1)
        .map((line) => JSON.parse(line) as { kind: string; action?: string });
      expect(records.filter((r) => r.kind === 'storm').map((r) => r.action)).toEqual(['raised', 'released']);
    }
  }, 60_000);

  it('exits 2 on a usage mistake or a source that cannot be loaded', async () => {
    expect((await cli('serve', '--snapshot', snapshot, '--no-storm', '--storm-hold')).status).toBe(2);
    expect((await cli('serve', '--snapshot', snapshot, '--storm-window', '0')).status).toBe(2);
    expect((await cli('serve')).status).toBe(2);
    expect((await cli('serve', '--snapshot', snapshot, '--db', join(dir, 'x.db'))).status).toBe(2);
    expect((await cli('serve', '--snapshot', snapshot, '--interval', '0')).status).toBe(2);
    const refused = await cli('serve', '--snapshot', snapshot, '--host', '0.0.0.0', '--port', '0');
    expect(refused.status).toBe(2);
    expect(refused.err).toMatch(/--allow-unauthenticated/);
    const missing = await cli('serve', '--snapshot', join(dir, 'missing.snap'), '--port', '0');
    expect(missing.status).toBe(2);
    expect(missing.lines.some((l) => l.includes('lists-load-failed'))).toBe(true);
  });
});
