/**
 * `hashwarden/fastify` over real HTTP: Fastify apps on 127.0.0.1 with `@fastify/multipart`, the
 * guard as a route's `preHandler`, running the tests every adapter owes
 * (src/testing/upload-contract.ts).
 */
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
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

const setup = uploadFixtures();
const apps: FastifyInstance[] = [];

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

/** An app with `@fastify/multipart` (unless `withMultipart` is false) and the guard on POST /upload. */
async function serve(
  options: UploadGuardOptions<FastifyRequest> = {},
  m: Matcher = setup.matcher(),
  withMultipart = true,
): Promise<Served> {
  const seen: Seen = { handled: 0, hooked: [] };
  const app = Fastify();
  apps.push(app);
  if (withMultipart) await app.register(multipart);
  // An app that reads multipart its own way: the body is left to the route, with no request.parts.
  else app.addContentTypeParser('multipart/form-data', (_request, _payload, done) => done(null));
  app.post('/upload', { preHandler: uploadGuard(m, recording(options, seen)) }, async (request) => ({
    ...handlerAnswer(request.hashwarden, seen),
    body: request.body,
  }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `${origin(app.server)}/upload`, seen, server: app.server };
}

describeUploadGuard('uploadGuard (Fastify)', serve, setup, true);

describe('uploadGuard (Fastify)', () => {
  it('puts the text fields on request.body', async () => {
    const { url } = await serve();
    const answer = await upload(url, [{ bytes: image(UNRELATED) }], { caption: 'a hill' });
    expect(answer.body.body).toEqual({ caption: 'a hill' });
  });

  it('refuses every upload with a TypeError (500) on an app that parses multipart without @fastify/multipart, never calling the handler', async () => {
    const { url, seen } = await serve({}, setup.matcher(), false);
    const answer = await upload(url, [{ bytes: image(UNRELATED) }]);
    expect(answer.status).toBe(500);
    expect(String(answer.body.message)).toMatch(
      /^Expected @fastify\/multipart registered on the app for request\.parts/,
    );
    expect(seen.handled).toBe(0);
  });
});
