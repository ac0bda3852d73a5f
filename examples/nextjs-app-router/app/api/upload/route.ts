/**
 * A Next.js App Router route guarded by hashwarden: POST /api/upload takes one image (field
 * `image`) and an optional `caption`. A listed image is refused with 403 after its report and
 * evidence are written; an image that cannot be checked is refused with its code (fail closed); a
 * clean one is stored and answered 201. Environment: HASHWARDEN_SNAPSHOT (default `lists.snap`),
 * UPLOAD_DIR, REPORT_DIR.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Matcher } from 'hashwarden';
import { uploadGuard, type UploadCheck, type WebUploadResult } from 'hashwarden/web';

// sharp decodes the images: the Node.js runtime, not the Edge runtime.
export const runtime = 'nodejs';

const uploadDir = process.env.UPLOAD_DIR ?? 'uploads';
const reportDir = process.env.REPORT_DIR ?? 'reports';

/** A match's report (its full results, without the bytes) and the evidence (the bytes, owner-only). */
async function report(uploads: readonly UploadCheck[], request: Request): Promise<void> {
  const id = randomUUID();
  await mkdir(reportDir, { recursive: true, mode: 0o700 });
  for (const [i, upload] of uploads.entries())
    await writeFile(join(reportDir, `${id}-${i}.bin`), upload.bytes, { mode: 0o600 });
  const summary = {
    id,
    at: new Date().toISOString(),
    ip: request.headers.get('x-forwarded-for'),
    uploads: uploads.map(({ bytes, ...upload }) => upload),
  };
  await writeFile(join(reportDir, `${id}.json`), JSON.stringify(summary, null, 2), { mode: 0o600 });
}

// One matcher and one guard per server process, opened on the first request; a failed open is
// tried again on the next one (meanwhile every upload is refused: 500, never let through).
let guard: Promise<(request: Request) => Promise<WebUploadResult>> | undefined;
function getGuard() {
  guard ??= Matcher.open(process.env.HASHWARDEN_SNAPSHOT ?? 'lists.snap').then(
    (matcher) => uploadGuard(matcher, { maxBytes: 20 * 1024 * 1024, onMatch: report }),
    (error: unknown) => {
      guard = undefined;
      throw error;
    },
  );
  return guard;
}

export async function POST(request: Request): Promise<Response> {
  const { response, uploads, fields } = await (await getGuard())(request);
  if (response) return response;
  const [upload] = uploads;
  const id = randomUUID();
  await mkdir(uploadDir, { recursive: true });
  await writeFile(join(uploadDir, id), upload!.bytes);
  return Response.json({ id, caption: fields.caption ?? null }, { status: 201 });
}
