/**
 * `hashwarden/web` over real HTTP: the guard in a fetch-style handler served by a node:http → web
 * `Request` bridge on 127.0.0.1 (as Next.js serves a route), running the tests every adapter owes
 * (src/testing/upload-contract.ts).
 */
import type { Server } from 'node:http';
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
import { image, origin, serveWeb, UNRELATED } from '../testing/uploads.js';
import { uploadGuard, type UploadGuardOptions } from './index.js';

const setup = uploadFixtures();
const servers: Server[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A route whose POST runs the guard, answering its response or what the handler got. */
async function serve(options: UploadGuardOptions<Request> = {}, m: Matcher = setup.matcher()): Promise<Served> {
  const seen: Seen = { handled: 0, hooked: [] };
  const guard = uploadGuard(m, recording(options, seen));
  const server = await serveWeb(async (request) => {
    const { response, ...result } = await guard(request);
    return response ?? Response.json(handlerAnswer(result, seen));
  });
  servers.push(server);
  return { url: `${origin(server)}/upload`, seen, server };
}

describeUploadGuard('uploadGuard (web Request)', serve, setup, true);

describe('uploadGuard (web Request)', () => {
  it('returns the refusal with the checks made, and no response when the handler goes on', async () => {
    const guard = uploadGuard(setup.matcher());
    const form = (file: string) => {
      const data = new FormData();
      data.append('image', new Blob([image(file)]), file);
      data.append('caption', 'x');
      return new Request('http://localhost/upload', { method: 'POST', body: data });
    };
    const blocked = await guard(form('blobs-640x480.jpg'));
    expect(blocked.response?.status).toBe(403);
    expect(blocked.uploads.map((u) => u.outcome)).toEqual(['matched']);
    const clean = await guard(form(UNRELATED));
    expect(clean.response).toBeUndefined();
    expect(clean.uploads.map((u) => u.outcome)).toEqual(['clean']);
    expect(clean.fields).toEqual({ caption: 'x' });
  });

  it('answers 400 ERR_UPLOAD_REQUEST to a body that is not multipart', async () => {
    const { url } = await serve();
    const answer = await fetch(url, { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ code: 'ERR_UPLOAD_REQUEST' });
  });
});
