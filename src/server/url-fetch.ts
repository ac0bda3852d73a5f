/**
 * `?url=` uploads (`GET /h/hash`, `GET /m/lookup`): off unless hosts are allow-listed, because a
 * sidecar that fetches any URL it is given is a way into every service its network reaches (SSRF).
 * When on: http and https only, the host and every redirect's host on the list (redirects followed
 * here, one at a time, at most `MAX_REDIRECTS`), a declared length above the byte limit refused
 * before the body is read, the body handed on as a stream for the matcher to read within its byte
 * limit, and the whole fetch within a timeout.
 */
import { HttpError } from './hma.js';
import type { ResolvedServerOptions } from './options.js';

/** Redirects followed at most: what browsers allow (20) is far more than a file host needs. */
const MAX_REDIRECTS = 5;

/** HMA's answer to a URL it will not fetch (hashing.py `hash_url_content`). */
const UNSAFE = 'Invalid or unsafe URL provided';

/** A fetched upload: its body, to be read by the matcher, and a way to stop the fetch. */
export interface FetchedUpload {
  readonly body: ReadableStream<Uint8Array>;
  readonly abort: () => void;
}

/** The URL, when its scheme and host are allowed; a 400 otherwise. */
function allowedUrl(text: string, base: URL | undefined, hosts: ReadonlySet<string>): URL {
  let url: URL;
  try {
    url = new URL(text, base);
  } catch {
    throw new HttpError(400, UNSAFE);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !hosts.has(url.hostname))
    throw new HttpError(400, base === undefined ? UNSAFE : `${UNSAFE}: a redirect leaves the allowed hosts`);
  return url;
}

/**
 * Fetches `text` under the sidecar's URL rules. `contentType`: HMA's `content_type` parameter; without it the
 * response must say `image/…` (HMA derives the content type from it, hashing.py
 * `_parse_request_content_type`).
 */
export async function fetchUpload(
  text: string,
  contentType: string | undefined,
  options: ResolvedServerOptions,
): Promise<FetchedUpload> {
  const { allowUrlHosts, urlTimeoutMs, maxBytes } = options;
  if (allowUrlHosts.size === 0)
    throw new HttpError(403, 'URL fetching is off: the sidecar fetches only from hosts allowed with --allow-url-host', {
      code: 'ERR_URL_FETCH_OFF',
    });
  if (contentType !== undefined && contentType !== 'photo')
    throw new HttpError(400, `no such content_type: '${contentType}'`);
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`no answer within ${urlTimeoutMs / 1000} s`)),
    urlTimeoutMs,
  );
  timer.unref();
  const abort = (): void => {
    clearTimeout(timer);
    controller.abort();
  };
  try {
    let url = allowedUrl(text, undefined, allowUrlHosts);
    for (let redirects = 0; ; redirects++) {
      const response = await fetch(url, { redirect: 'manual', signal: controller.signal });
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        if (redirects === MAX_REDIRECTS)
          throw new HttpError(400, `Failed to fetch URL: more than ${MAX_REDIRECTS} redirects`);
        url = allowedUrl(location, url, allowUrlHosts);
        continue;
      }
      if (!response.ok || response.body === null) {
        await response.body?.cancel();
        throw new HttpError(400, `Failed to fetch URL: HTTP ${response.status}`);
      }
      const length = Number(response.headers.get('content-length') ?? Number.NaN);
      if (length > maxBytes) {
        await response.body.cancel();
        throw new HttpError(413, 'Content too large', { code: 'ERR_IMAGE_TOO_LARGE' });
      }
      const type = response.headers.get('content-type') ?? '';
      if (contentType === undefined && !type.toLowerCase().startsWith('image')) {
        await response.body.cancel();
        throw new HttpError(
          400,
          `unsupported url ContentType: '${type}', if you know the expected type, provide it with the content_type query param`,
        );
      }
      return { body: response.body, abort };
    }
  } catch (error) {
    abort();
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, `Failed to fetch URL: ${(error as Error).message}`);
  }
}
