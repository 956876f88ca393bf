/**
 * The HTTP client of the command-line clients that read a log (`vellum monitor`, `vellum verify`):
 * fetch with a per-attempt timeout, and retries with exponential backoff on network errors, 429
 * and 5xx. Any other non-2xx answer is final. Failures are VellumErrors: NOT_FOUND for a 404,
 * UNAVAILABLE when the retries ran out, INVALID_ARGUMENT for an answer that is not what was asked.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { VellumError } from '../../core/errors';

export interface HttpClientOptions {
  /** Per attempt (default 60 s). */
  readonly timeoutMs?: number;
  /** Attempts in all (default 5). */
  readonly attempts?: number;
  /** First backoff; doubles each retry (default 200 ms). */
  readonly backoffMs?: number;
}

export interface HttpReply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
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
  async once(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpReply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await fetch(`${this.base}/${path.replace(/^\/+/, '')}`, {
      method,
      headers: {
        accept: 'application/json, application/octet-stream, text/plain',
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload !== undefined ? { body: payload } : {}),
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 60_000),
      redirect: 'error',
    });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
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
