/**
 * Vellum's one outgoing HTTP client (fetch, from undici so a request can carry its own
 * dispatcher): `sendOnce` is one request with a deadline covering the whole exchange, a cap on
 * the answer read, and redirects never followed; webhooks (webhook-client.ts, which pins the
 * connection to an SSRF-checked address through the dispatcher) and the log readers of
 * `vellum monitor` / `vellum verify` (HttpClient below, with retries) both go through it.
 *
 * HttpClient retries with exponential backoff on network errors, 429 and 5xx; any other non-2xx
 * answer is final. Its failures are VellumErrors: NOT_FOUND for a 404, UNAVAILABLE when the
 * retries ran out, INVALID_ARGUMENT for an answer that is not what was asked.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fetch, type Dispatcher } from 'undici';
import { VellumError } from '../../core/errors';

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

/** One request; rejects on network errors and timeouts (message says which). */
export async function sendOnce(url: string, o: SendOptions): Promise<HttpReply> {
  const signal = AbortSignal.timeout(o.timeoutMs);
  let res;
  try {
    res = await fetch(url, {
      method: o.method,
      ...(o.headers !== undefined ? { headers: o.headers } : {}),
      ...(o.body !== undefined ? { body: o.body } : {}),
      redirect: 'manual',
      signal,
      ...(o.dispatcher !== undefined ? { dispatcher: o.dispatcher } : {}),
    });
    if (o.maxBodyBytes === undefined)
      return {
        status: res.status,
        headers: res.headers as unknown as Headers,
        body: Buffer.from(await res.arrayBuffer()),
      };
    const chunks: Buffer[] = [];
    let kept = 0;
    let truncated = false;
    if (res.body !== null) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        kept += value.length;
        if (kept > o.maxBodyBytes) {
          truncated = true;
          await reader.cancel();
          break;
        }
      }
    }
    return {
      status: res.status,
      headers: res.headers as unknown as Headers,
      body: Buffer.concat(chunks),
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
