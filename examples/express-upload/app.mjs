/**
 * An Express upload route guarded by hashwarden: POST /upload takes one image (field `image`) and
 * an optional `caption`. A listed image is refused with 403 after its report and evidence are
 * written; an image that cannot be checked is refused with its code (fail closed); a clean one is
 * stored and answered 201. Run: `HASHWARDEN_SNAPSHOT=lists.snap node app.mjs` (PORT, UPLOAD_DIR,
 * REPORT_DIR: see below).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Matcher } from 'hashwarden';
import { uploadGuard } from 'hashwarden/express';

/**
 * The app over `matcher`: clean uploads are stored in `uploadDir`; a match's report (its full
 * results, without the bytes) and the evidence (the bytes, owner-only) go to `reportDir`.
 *
 * @param {Matcher} matcher
 * @param {{ uploadDir: string, reportDir: string }} dirs
 */
export function createApp(matcher, { uploadDir, reportDir }) {
  const app = express();
  app.post(
    '/upload',
    uploadGuard(matcher, {
      maxBytes: 20 * 1024 * 1024,
      // Awaited before the 403 goes out: a report is filed and the evidence kept for every block.
      onMatch: async (uploads, req) => {
        const id = randomUUID();
        await mkdir(reportDir, { recursive: true, mode: 0o700 });
        for (const [i, upload] of uploads.entries())
          await writeFile(join(reportDir, `${id}-${i}.bin`), upload.bytes, { mode: 0o600 });
        const report = {
          id,
          at: new Date().toISOString(),
          ip: req.ip,
          uploads: uploads.map(({ bytes, ...upload }) => upload),
        };
        await writeFile(join(reportDir, `${id}.json`), JSON.stringify(report, null, 2), { mode: 0o600 });
      },
    }),
    async (req, res) => {
      const [upload] = req.hashwarden.uploads;
      const id = randomUUID();
      await mkdir(uploadDir, { recursive: true });
      await writeFile(join(uploadDir, id), upload.bytes);
      res.status(201).json({ id, caption: req.body.caption ?? null });
    },
  );
  return app;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const matcher = await Matcher.open(process.env.HASHWARDEN_SNAPSHOT ?? 'lists.snap');
  const app = createApp(matcher, {
    uploadDir: process.env.UPLOAD_DIR ?? 'uploads',
    reportDir: process.env.REPORT_DIR ?? 'reports',
  });
  app.listen(Number(process.env.PORT ?? 3000));
}
