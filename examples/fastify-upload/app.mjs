/**
 * A Fastify upload route guarded by hashwarden: POST /upload takes one image (field `image`) and an
 * optional `caption`, through `@fastify/multipart`. A listed image is refused with 403 after its
 * report and evidence are written; an image that cannot be checked is refused with its code (fail
 * closed); a clean one is stored and answered 201. Run: `HASHWARDEN_SNAPSHOT=lists.snap node
 * app.mjs` (PORT, UPLOAD_DIR, REPORT_DIR: see below).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import multipart from '@fastify/multipart';
import Fastify from 'fastify';
import { Matcher } from 'hashwarden';
import { uploadGuard } from 'hashwarden/fastify';

/**
 * The app over `matcher`: clean uploads are stored in `uploadDir`; a match's report (its full
 * results, without the bytes) and the evidence (the bytes, owner-only) go to `reportDir`.
 *
 * @param {Matcher} matcher
 * @param {{ uploadDir: string, reportDir: string }} dirs
 */
export async function createApp(matcher, { uploadDir, reportDir }) {
  const app = Fastify({ logger: false });
  await app.register(multipart);
  const guard = uploadGuard(matcher, {
    maxBytes: 20 * 1024 * 1024,
    // Awaited before the 403 goes out: a report is filed and the evidence kept for every block.
    onMatch: async (uploads, request) => {
      const id = randomUUID();
      await mkdir(reportDir, { recursive: true, mode: 0o700 });
      for (const [i, upload] of uploads.entries())
        await writeFile(join(reportDir, `${id}-${i}.bin`), upload.bytes, { mode: 0o600 });
      const report = {
        id,
        at: new Date().toISOString(),
        ip: request.ip,
        uploads: uploads.map(({ bytes, ...upload }) => upload),
      };
      await writeFile(join(reportDir, `${id}.json`), JSON.stringify(report, null, 2), { mode: 0o600 });
    },
  });
  app.post('/upload', { preHandler: guard }, async (request, reply) => {
    const [upload] = request.hashwarden.uploads;
    const id = randomUUID();
    await mkdir(uploadDir, { recursive: true });
    await writeFile(join(uploadDir, id), upload.bytes);
    return reply.code(201).send({ id, caption: request.body.caption ?? null });
  });
  return app;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const matcher = await Matcher.open(process.env.HASHWARDEN_SNAPSHOT ?? 'lists.snap');
  const app = await createApp(matcher, {
    uploadDir: process.env.UPLOAD_DIR ?? 'uploads',
    reportDir: process.env.REPORT_DIR ?? 'reports',
  });
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: '0.0.0.0' });
}
