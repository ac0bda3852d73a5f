/**
 * An AWS Lambda function behind a function URL (or an API Gateway HTTP API, payload 2.0) guarded by
 * hashwarden: POST takes one image (field `image`) and an optional `caption`. A listed image is
 * refused with 403 after its report and evidence are written; an image that cannot be checked is
 * refused with its code (fail closed); a clean one is stored and answered 201. Environment:
 * HASHWARDEN_SNAPSHOT (default /opt/hashwarden/lists.snap: a Lambda layer), UPLOAD_DIR and
 * REPORT_DIR (default under /tmp: put your own storage there, S3 for instance).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Matcher } from 'hashwarden';
import { uploadGuard } from 'hashwarden/web';

const uploadDir = process.env.UPLOAD_DIR ?? '/tmp/uploads';
const reportDir = process.env.REPORT_DIR ?? '/tmp/reports';

/** A match's report (its full results, without the bytes) and the evidence (the bytes, owner-only). */
async function report(uploads, request) {
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

// Opened during the function's init, once per execution environment, and reused by every warm
// invocation; a snapshot that cannot be opened fails the init, so no upload is decided without
// lists. No hashing threads: an environment handles one request at a time.
const matcher = await Matcher.open(process.env.HASHWARDEN_SNAPSHOT ?? '/opt/hashwarden/lists.snap', {
  hashThreads: 0,
});
// A function URL takes at most 6 MB of request body, base64 included: no larger image can arrive.
const guard = uploadGuard(matcher, { maxBytes: 6 * 1024 * 1024, onMatch: report });

/** The Lambda entry point (`handler.handler`): the event as a web Request, the guard's answer as the result. */
export async function handler(event) {
  const method = event.requestContext?.http?.method ?? 'POST';
  const body =
    event.body === undefined || method === 'GET' || method === 'HEAD'
      ? undefined
      : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  const headers = { ...event.headers, 'x-forwarded-for': event.requestContext?.http?.sourceIp ?? '' };
  const request = new Request(`https://${event.requestContext?.domainName ?? 'localhost'}${event.rawPath ?? '/'}`, {
    method,
    headers,
    body,
  });
  const { response, uploads, fields } = await guard(request);
  if (response)
    return { statusCode: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
  const [upload] = uploads;
  const id = randomUUID();
  await mkdir(uploadDir, { recursive: true });
  await writeFile(join(uploadDir, id), upload.bytes);
  return {
    statusCode: 201,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, caption: fields.caption ?? null }),
  };
}
