/**
 * Vellum's one outgoing HTTP client (undici, so a request can carry its own dispatcher): `sendOnce` is one request with a deadline covering the whole exchange, a cap on
 * the answer read, and redirects never followed; webhooks (webhook-client.ts, which pins the
 * connection to an SSRF-checked address through the dispatcher) and the log readers of
 * `vellum monitor` / `vellum verify` (HttpClient below, with retries) both go through it.
 *
 * HttpClient retries with exponential backoff on network errors, 429 and 5xx; any other non-2xx
 * answer is final. Its failures are VellumErrors: NOT_FOUND for a 404, UNAVAILABLE when the
 * retries ran out, INVALID_ARGUMENT for an answer that is not what was asked.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { VellumError } from '../core/errors';

export interface SendOptions {
  readonly method: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | string;
  /** The whole exchange, answer included. */
  readonly timeoutMs: number;
  /** Bytes of the answer kept; reading stops (and the connection is dropped) beyond them. */
  readonly maxBodyBytes?: number;
  readonly dispatcher?: Dispatcher;
}

export interface HttpReply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
  /** Set when the answer was longer than maxBodyBytes (body then holds only what was kept). */
  readonly truncated?: boolean;
}

/** Undici's answer headers (a value may be repeated) as a fetch Headers object. */
function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const h = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) h.append(name, v);
  }
  return h;
}

/**
 * One request; rejects on network errors and timeouts (message says which). Undici's `request`
 * rather than its fetch: a log scan makes hundreds of requests for bundles of ~150 KiB, and
 * fetch's WHATWG stream plumbing cost the monitor several times the CPU of the hashing it feeds.
 * It never follows redirects (a 3xx is returned as it is).
 */
export async function sendOnce(url: string, o: SendOptions): Promise<HttpReply> {
  const signal = AbortSignal.timeout(o.timeoutMs);
  try {
    const res = await request(url, {
      method: o.method,
      ...(o.headers !== undefined ? { headers: o.headers } : {}),
      ...(o.body !== undefined ? { body: o.body } : {}),
      signal,
      ...(o.dispatcher !== undefined ? { dispatcher: o.dispatcher } : {}),
    });
    const headers = toHeaders(res.headers);
    const chunks: Buffer[] = [];
    let kept = 0;
    let truncated = false;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      kept += chunk.length;
      if (o.maxBodyBytes !== undefined && kept > o.maxBodyBytes) {
        truncated = true;
        res.body.destroy();
        break;
      }
    }
    return {
      status: res.statusCode,
      headers,
      body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, kept),
      ...(truncated ? { truncated } : {}),
    };
  } catch (e) {
    if (signal.aborted) throw new Error(`timed out after ${o.timeoutMs} ms`);
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new Error(cause !== undefined ? `${(e as Error).message}: ${cause}` : (e as Error).message);
  }
}

export interface HttpClientOptions {
  /** Per attempt (default 60 s). */
  readonly timeoutMs?: number;
  /** Attempts in all (default 5). */
  readonly attempts?: number;
  /** First backoff; doubles each retry (default 200 ms). */
  readonly backoffMs?: number;
}

export class HttpClient {
  readonly base: string;

  constructor(
    base: string,
    private readonly o: HttpClientOptions = {},
  ) {
    this.base = base.replace(/\/+$/, '');
  }

  /** One request, no retries; rejects only on network errors and timeouts. */
  once(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpReply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return sendOnce(`${this.base}/${path.replace(/^\/+/, '')}`, {
      method,
      headers: {
        accept: 'application/json, application/octet-stream, text/plain',
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload !== undefined ? { body: payload } : {}),
      timeoutMs: this.o.timeoutMs ?? 60_000,
    });
  }

  /** A 2xx answer, retried as the file comment says. */
  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpReply> {
    const attempts = this.o.attempts ?? 5;
    let last = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep((this.o.backoffMs ?? 200) * 2 ** (attempt - 1));
      let res: HttpReply;
      try {
        res = await this.once(method, path, body);
      } catch (e) {
        last = (e as Error).message;
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        last = `HTTP ${res.status} ${res.body.toString('utf8', 0, 200)}`;
        continue;
      }
      if (res.status === 404)
        throw new VellumError(
          'NOT_FOUND',
          `${method} ${path}: HTTP 404 ${res.body.toString('utf8', 0, 300)}`,
        );
      if (res.status < 200 || res.status >= 300)
        throw new VellumError(
          'INVALID_ARGUMENT',
          `${method} ${path}: HTTP ${res.status} ${res.body.toString('utf8', 0, 300)}`,
        );
      return res;
    }
    throw new VellumError('UNAVAILABLE', `${method} ${path}: ${last}`);
  }

  async json(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const res = await this.request(method, path, body);
    try {
      return JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new VellumError('INVALID_ARGUMENT', `${method} ${path}: response is not JSON`);
    }
  }

  async bytes(path: string): Promise<Buffer> {
    return (await this.request('GET', path)).body;
  }

  async text(path: string): Promise<string> {
    return (await this.request('GET', path)).body.toString('utf8');
  }
}
