/**
 * `hashwarden/express` over real HTTP: Express apps on 127.0.0.1, uploads sent with `fetch` and
 * `FormData` (raw sockets for what fetch cannot do: a body that stalls, one that never ends), the
 * guard on its own (busboy) and after multer (memory and disk storage). The shared tests are in
 * src/testing/upload-contract.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import express, { type Request } from 'express';
import multer from 'multer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Matcher } from '../matcher/matcher.js';
import {
  describeUploadGuard,
  handlerAnswer,
  recording,
  uploadFixtures,
  type Seen,
  type Served,
} from '../testing/upload-contract.js';
import { image, origin, UNRELATED, upload } from '../testing/uploads.js';
import { uploadGuard, type UploadGuardOptions } from './index.js';

type Mode = 'busboy' | 'multer memory' | 'multer disk';

const setup = uploadFixtures();
let disk: string;
const servers: Server[] = [];

beforeAll(async () => {
  disk = await mkdtemp(join(tmpdir(), 'hashwarden-multer-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await rm(disk, { recursive: true, force: true });
});

/** An app with the guard on POST /upload (after multer, or on its own), answering what the handler got. */
async function serve(
  mode: Mode,
  options: UploadGuardOptions<Request> = {},
  m: Matcher = setup.matcher(),
): Promise<Served> {
  const seen: Seen = { handled: 0, hooked: [] };
  const app = express();
  const before =
    mode === 'busboy'
      ? []
      : [multer(mode === 'multer disk' ? { dest: disk } : { storage: multer.memoryStorage() }).any()];
  app.post('/upload', ...before, uploadGuard(m, recording(options, seen)), (req, res) => {
    res.json({ ...handlerAnswer(req.hashwarden, seen), body: req.body });
  });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `${origin(server)}/upload`, seen, server };
}

describeUploadGuard('uploadGuard (busboy)', (options, m) => serve('busboy', options, m), setup, true);
describeUploadGuard('uploadGuard (multer memory)', (options, m) => serve('multer memory', options, m), setup, false);
describeUploadGuard('uploadGuard (multer disk)', (options, m) => serve('multer disk', options, m), setup, false);

describe('uploadGuard (Express)', () => {
  it('puts the text fields on req.body when it parses the body itself', async () => {
    const { url } = await serve('busboy');
    const answer = await upload(url, [{ bytes: image(UNRELATED) }], { caption: 'a hill', tag: 'x' });
    expect(answer.body.body).toEqual({ caption: 'a hill', tag: 'x' });
  });

  it('refuses a stored file above maxBytes without reading it', async () => {
    const { url, seen } = await serve('multer disk', { maxBytes: 10_000 });
    const answer = await upload(url, [{ bytes: image(UNRELATED) }]);
    expect([answer.status, answer.body.code]).toEqual([413, 'ERR_IMAGE_TOO_LARGE']);
    expect(seen.handled).toBe(0);
    expect((await readdir(disk)).length).toBeGreaterThan(0);
  });

  it('refuses options out of range with the standard message', () => {
    expect(() => uploadGuard(setup.matcher(), { maxFiles: 0 })).toThrow(RangeError);
    expect(() => uploadGuard(setup.matcher(), { maxBytes: setup.matcher().limits.maxBytes + 1 })).toThrow(
      /^Expected integer between 1 and \d+ for maxBytes but received \d+ of type number$/,
    );
    expect(() => uploadGuard(setup.matcher(), { failOpen: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(() => uploadGuard({} as Matcher)).toThrow(TypeError);
  });
});

describe('busboy, an optional peer', () => {
  it('imports without busboy, and fails a body it would parse with ERR_MISSING_DEPENDENCY naming the install command', async () => {
    // A child process whose module resolution cannot find busboy, as in an app that did not install it.
    const hook = `export async function resolve(specifier, context, next) {
      if (specifier === 'busboy') throw Object.assign(new Error("Cannot find package 'busboy' imported from the app"), { code: 'ERR_MODULE_NOT_FOUND' });
      return next(specifier, context);
    }`;
    const script = `
      import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
      const { default: express } = await import('express');
      const { Matcher } = await import('./src/index.ts');
      const { uploadGuard } = await import('./src/express/index.ts');
      const matcher = Matcher.fromEntries([{ list: 'l', algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427e' }]);
      const app = express();
      let seen;
      app.post('/upload', uploadGuard(matcher), (req, res) => res.sendStatus(201));
      app.use((error, req, res, next) => { seen = { code: error.code, message: error.message }; res.sendStatus(500); });
      const server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(16)]), 'x.bin');
      const answer = await fetch('http://127.0.0.1:' + server.address().port + '/upload', { method: 'POST', body: form });
      console.log(JSON.stringify({ status: answer.status, ...seen }));
      server.close();`;
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: root },
    );
    const outcome = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(outcome.status).toBe(500);
    expect(outcome.code).toBe('ERR_MISSING_DEPENDENCY');
    expect(outcome.message).toMatch(/^busboy is not installed: run `npm install busboy`/);
  }, 30_000);
});
