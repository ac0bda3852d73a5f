/**
 * The stand-in servers' shared part: a node:http server on 127.0.0.1 that answers each request
 * with the protocol handler a connector's test gives, records what it was asked (with headers,
 * so tests check credentials are sent and sent only where due), and plays the faults the tests
 * need: an HTTP status for the next requests, a stall, a body cut short. The real services need
 * accounts this project cannot have (docs/lists.md); these are the only stand-ins allowed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the stand-in saw it. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** What a protocol handler answers. */
export interface StandInAnswer {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** A protocol: the answer to one request (its URL parsed against the stand-in's base). */
export type StandInHandler = (request: RecordedRequest, url: URL) => StandInAnswer | Promise<StandInAnswer>;

/** A fault played instead of (or on top of) the handler's answer. */
export type StandInFault =
  | { readonly kind: 'status'; readonly status: number; readonly headers?: Readonly<Record<string, string>> }
  /** Headers sent, then nothing until the client gives up (a slow server). */
  | { readonly kind: 'stall' }
  /** The handler's answer, its body cut in half and the connection destroyed. */
  | { readonly kind: 'cut' };

/** A running stand-in. */
export interface StandIn {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /**
   * Plays `fault` instead of the answer for the next `times` requests whose path matches `when`
   * (any request when omitted), after `skip` matching requests pass untouched.
   */
  fail(
    fault: StandInFault,
    options?: { readonly times?: number; readonly skip?: number; readonly when?: RegExp },
  ): void;
  close(): Promise<void>;
}

interface PendingFault {
  readonly fault: StandInFault;
  remaining: number;
  skip: number;
  readonly when: RegExp | undefined;
}

/**
 * Starts a stand-in on 127.0.0.1 on a free port.
 *
 * @example
 * ```ts
 * const server = await startStandIn((request, url) => ({ body: pages[Number(url.searchParams.get('page'))] }));
 * server.fail({ kind: 'status', status: 500 }, { skip: 2, times: 10 });
 * ```
 */
export async function startStandIn(handler: StandInHandler): Promise<StandIn> {
  const requests: RecordedRequest[] = [];
  const faults: PendingFault[] = [];
  const stalled = new Set<ServerResponse>();

  const takeFault = (path: string): StandInFault | undefined => {
    for (const pending of faults) {
      if (pending.remaining <= 0 || (pending.when !== undefined && !pending.when.test(path))) continue;
      if (pending.skip > 0) {
        pending.skip--;
        return undefined;
      }
      pending.remaining--;
      return pending.fault;
    }
    return undefined;
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      const url = new URL(recorded.url, 'http://127.0.0.1');
      const fault = takeFault(url.pathname);
      if (fault?.kind === 'status') {
        res.writeHead(fault.status, { 'content-type': 'text/plain', ...fault.headers });
        res.end(`stand-in fault: HTTP ${fault.status}`);
        return;
      }
      if (fault?.kind === 'stall') {
        stalled.add(res);
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.flushHeaders();
        res.on('close', () => stalled.delete(res));
        return;
      }
      Promise.resolve()
        .then(() => handler(recorded, url))
        .then(
          (answer) => {
            const body = answer.body ?? '';
            res.writeHead(answer.status ?? 200, answer.headers ?? {});
            if (fault?.kind === 'cut') {
              res.write(body.slice(0, Math.floor(body.length / 2)));
              setImmediate(() => res.destroy());
              return;
            }
            res.end(body);
          },
          (error: unknown) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(`stand-in handler failed: ${(error as Error).message}`);
          },
        );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    fail(fault, options = {}) {
      faults.push({ fault, remaining: options.times ?? 1, skip: options.skip ?? 0, when: options.when });
    },
    async close() {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
