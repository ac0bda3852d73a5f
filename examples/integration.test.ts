/**
 * The upload-route examples of docs/integration.md, run as their frameworks run them, over real
 * HTTP on 127.0.0.1: the Express and Fastify apps (examples/express-upload, examples/fastify-upload)
 * listening, and the Next.js App Router route (examples/nextjs-app-router) imported and served
 * through a node:http → web Request bridge (Next itself is not run: see its README), and the Lambda
 * function (examples/lambda-function-url) behind a bridge that makes function-URL events. Each blocks a
 * listed image and its edited copy after writing the report and evidence, stores an unrelated one,
 * refuses what it cannot check with its code; and the doc shows each file as it is. Runs against
 * the built package (`npm run build`): `hashwarden` resolves to dist/.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Matcher } from 'hashwarden';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOSTILE, IMAGES, image, origin, serveWeb, upload } from '../src/testing/uploads.js';
import { writeExampleSnapshot } from './lambda-upload-hook/example-lists.mjs';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

let dir: string;
let snapshot: string;
const closers: (() => Promise<unknown>)[] = [];
const saved = { ...process.env };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-integration-'));
  snapshot = join(dir, 'lists.snap');
  await writeExampleSnapshot(snapshot);
}, 60_000);
afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
  process.env = saved;
  await rm(dir, { recursive: true, force: true });
});

/** Where one example stores uploads and reports. */
interface Dirs {
  readonly uploadDir: string;
  readonly reportDir: string;
}

const listen = async (server: Server) => {
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return `${origin(server)}`;
};

/**
 * A Lambda function URL in front of `handler`, as AWS runs one: the whole body read, base64 in a
 * payload-2.0 event with the headers (lower case, repeated ones joined), the result written back.
 */
async function serveLambda(
  handler: (event: unknown) => Promise<{ statusCode: number; headers?: Record<string, string>; body?: string }>,
): Promise<Server> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
    const [rawPath = '/', rawQueryString = ''] = (req.url ?? '/').split('?');
    const result = await handler({
      version: '2.0',
      rawPath,
      rawQueryString,
      headers,
      requestContext: {
        domainName: 'example.lambda-url.localhost',
        http: { method: req.method, sourceIp: '127.0.0.1' },
      },
      body: Buffer.concat(chunks).toString('base64'),
      isBase64Encoded: true,
    });
    res.writeHead(result.statusCode, result.headers ?? {});
    res.end(result.body ?? '');
  });
  server.listen(0, '127.0.0.1');
  return server;
}

/** Each example started on its own directories: the URL of its upload route. */
const EXAMPLES: Record<string, { file: string; section: string; start: (dirs: Dirs) => Promise<string> }> = {
  Express: {
    file: 'express-upload/app.mjs',
    section: '## Express',
    async start(dirs) {
      const { createApp } = await import('./express-upload/app.mjs');
      const app = createApp(await Matcher.open(snapshot), dirs);
      return `${await listen(app.listen(0, '127.0.0.1'))}/upload`;
    },
  },
  Fastify: {
    file: 'fastify-upload/app.mjs',
    section: '## Fastify',
    async start(dirs) {
      const { createApp } = await import('./fastify-upload/app.mjs');
      const app = await createApp(await Matcher.open(snapshot), dirs);
      await app.listen({ port: 0, host: '127.0.0.1' });
      closers.push(() => app.close());
      return `${origin(app.server)}/upload`;
    },
  },
  'Next.js': {
    file: 'nextjs-app-router/app/api/upload/route.ts',
    section: '## Next.js (App Router)',
    async start(dirs) {
      // The route reads its environment when it loads, as in a Next.js server.
      Object.assign(process.env, {
        HASHWARDEN_SNAPSHOT: snapshot,
        UPLOAD_DIR: dirs.uploadDir,
        REPORT_DIR: dirs.reportDir,
      });
      const route = await import('./nextjs-app-router/app/api/upload/route.ts');
      expect(route.runtime).toBe('nodejs');
      return `${await listen(await serveWeb(route.POST))}/api/upload`;
    },
  },
  Lambda: {
    file: 'lambda-function-url/handler.mjs',
    section: '## AWS Lambda',
    async start(dirs) {
      // The function reads its environment and opens its matcher when it loads (its init).
      Object.assign(process.env, {
        HASHWARDEN_SNAPSHOT: snapshot,
        UPLOAD_DIR: dirs.uploadDir,
        REPORT_DIR: dirs.reportDir,
      });
      const { handler } = await import('./lambda-function-url/handler.mjs');
      return `${await listen(await serveLambda(handler))}/upload`;
    },
  },
};

/** The first fenced code block after `heading` in docs/integration.md. */
async function docBlock(heading: string): Promise<string | undefined> {
  const doc = await readFile(here('../docs/integration.md'), 'utf8');
  const start = doc.indexOf(`\n${heading}\n`);
  if (start < 0) return undefined;
  return /```[a-z]*\n([\s\S]*?)```/.exec(doc.slice(start))?.[1];
}

describe.each(Object.keys(EXAMPLES))('the %s upload example', (name) => {
  const example = EXAMPLES[name] as (typeof EXAMPLES)[string];
  let url: string;
  let dirs: Dirs;
  beforeAll(async () => {
    dirs = { uploadDir: join(dir, name, 'uploads'), reportDir: join(dir, name, 'reports') };
    url = await example.start(dirs);
  }, 30_000);

  it('is shown whole in docs/integration.md', async () => {
    expect(await docBlock(example.section)).toBe(await readFile(here(example.file), 'utf8'));
  });

  it('blocks a listed image and its edited copy with a 403 naming no list, after writing the report and the evidence', async () => {
    for (const file of ['shapes-1024x768.jpg', 'shapes-1024x768--jpeg60.jpg']) {
      const answer = await upload(url, [{ bytes: image(file), name: file }]);
      expect([answer.status, answer.body], file).toEqual([403, { error: 'upload refused' }]);
    }
    const reports = (await readdir(dirs.reportDir)).sort();
    const json = reports.filter((f) => f.endsWith('.json'));
    expect(json).toHaveLength(2);
    const first = JSON.parse(await readFile(join(dirs.reportDir, json[0] as string), 'utf8'));
    expect(first.uploads[0]).toMatchObject({ outcome: 'matched', result: { matched: true } });
    expect(first.uploads[0].result.matches[0]).toMatchObject({ list: 'example', listLabel: 'block-and-report' });
    const evidence = reports.filter((f) => f.endsWith('.bin'));
    expect(evidence).toHaveLength(2);
    const kept = await Promise.all(evidence.map((f) => readFile(join(dirs.reportDir, f))));
    expect(kept.map((b) => b.length).sort()).toEqual(
      [image('shapes-1024x768.jpg').length, image('shapes-1024x768--jpeg60.jpg').length].sort(),
    );
    expect((await stat(join(dirs.reportDir, evidence[0] as string))).mode & 0o777).toBe(0o600);
    await expect(readdir(dirs.uploadDir)).rejects.toThrow();
  });

  it('stores an unrelated image whole and answers 201', async () => {
    const bytes = image('terrain-333x250.jpg');
    const answer = await upload(url, [{ bytes }], { caption: 'a hill' });
    expect(answer.status).toBe(201);
    expect(answer.body.caption).toBe('a hill');
    expect(await readFile(join(dirs.uploadDir, answer.body.id as string))).toEqual(bytes);
  });

  it('refuses what it cannot check with the code matchImage gives in process', async () => {
    const answer = await upload(url, [{ bytes: await readFile(join(HOSTILE, 'random-4k.bin')) }]);
    expect([answer.status, answer.body]).toEqual([415, { code: 'ERR_UNSUPPORTED_FORMAT' }]);
    expect(await readdir(dirs.uploadDir)).toHaveLength(1);
  });
});

/** python3 on PATH: the sidecar's Python example needs it, and CI must run it. */
const HAS_PYTHON = spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0;
const NO_PYTHON = "python3 is not on PATH: the sidecar page's Python example is not run";
if (!HAS_PYTHON && process.env.CI) throw new Error(`${NO_PYTHON}, and CI must run it`);
if (!HAS_PYTHON) console.warn(`skipped: ${NO_PYTHON}`);

describe.skipIf(!HAS_PYTHON)('the sidecar example (Python, standard library)', () => {
  const TOKEN = 'example-token-7f3a';
  let url: string;
  beforeAll(async () => {
    const { createServer } = await import('hashwarden/server');
    const sidecar = await createServer({ snapshot, token: TOKEN, logger: false });
    url = await sidecar.listen({ host: '127.0.0.1', port: 0 });
    await sidecar.loaded;
    closers.push(() => sidecar.close());
  }, 30_000);

  it('is shown whole in docs/integration.md', async () => {
    expect(await docBlock('## Sidecar (hashwarden serve)')).toBe(
      await readFile(here('sidecar-python/check_upload.py'), 'utf8'),
    );
  });

  /** The example run on `files`: its exit status and one decision a file. */
  const check = async (files: readonly string[], token = TOKEN) => {
    const run = await promisify(execFile)('python3', [here('sidecar-python/check_upload.py'), ...files], {
      env: { ...process.env, HASHWARDEN_URL: url, HASHWARDEN_TOKEN: token },
    }).then(
      (r) => ({ status: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string }) => ({ status: e.code, stdout: e.stdout }),
    );
    return {
      status: run.status,
      decisions: run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    };
  };

  it('blocks a listed image and its edited copy, naming the bank and entry to the service', async () => {
    const { status, decisions } = await check([
      join(IMAGES, 'shapes-1024x768.jpg'),
      join(IMAGES, 'shapes-1024x768--jpeg60.jpg'),
    ]);
    expect(status).toBe(1);
    for (const d of decisions) {
      expect(d.action).toBe('block');
      expect(d.matches).toContainEqual(expect.objectContaining({ signal_type: 'pdq', bank: 'example' }));
    }
  });

  it('allows an unrelated image, and rejects a file it cannot check with the code matchImage gives', async () => {
    const { status, decisions } = await check([join(IMAGES, 'terrain-333x250.jpg'), join(HOSTILE, 'random-4k.bin')]);
    expect(status).toBe(2);
    expect(decisions[0].action).toBe('allow');
    expect(decisions[1]).toMatchObject({ action: 'reject', code: 'ERR_UNSUPPORTED_FORMAT', retry: false });
  });

  it('rejects, never allows, when the token is wrong', async () => {
    const { decisions } = await check([join(IMAGES, 'terrain-333x250.jpg')], 'wrong');
    expect(decisions[0]).toMatchObject({ action: 'reject', status: 401 });
  });
});
