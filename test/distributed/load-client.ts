/**
 * A load client for the multi-process tests that behaves like a retrying signing client, and
 * the signed bodies it submits.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { makeHashedrekords } from '../../src/bench/bench-entries';
import { sleep } from '../support/wait';
import { leafHashOf } from '../support/verifier';

export interface Outcome {
  /** Final status: 201 or 409 (retries continue until one of them). */
  status: number;
  /** 201: the LogEntry document. */
  doc?: any;
  /** 409: the Location header. */
  location?: string;
  /** Every status seen for this body, in order (0 = connection error). */
  readonly attempts: number[];
  readonly leafHex: string;
}

export interface StatusSample {
  readonly at: number;
  readonly status: number;
}

/**
 * Submits every body once, round-robin over `urls`, `concurrency` at a time, and behaves like a
 * real client: a 503 or a connection error is retried with the same body after a short pause,
 * until the answer is 201 or 409. Records every status with its time.
 */
export class LoadClient {
  readonly outcomes: Outcome[];
  readonly samples: StatusSample[] = [];
  private next = 0;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly urls: readonly string[],
    private readonly bodies: readonly Buffer[],
    private readonly opts: { concurrency: number; retryPauseMs?: number; maxMs?: number },
  ) {
    this.outcomes = bodies.map((b) => ({ status: 0, attempts: [], leafHex: leafHashOf(b).toString('hex') }));
  }

  get answered(): number {
    return this.outcomes.filter((o) => o.status === 201 || o.status === 409).length;
  }

  count(status: number, since = 0): number {
    return this.samples.filter((s) => s.status === status && s.at >= since).length;
  }

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    const deadline = Date.now() + (this.opts.maxMs ?? 120_000);
    const worker = async (w: number) => {
      for (;;) {
        if (this.stopped) return;
        const i = this.next++;
        if (i >= this.bodies.length) return;
        let attempt = 0;
        for (;;) {
          if (Date.now() > deadline)
            throw new Error(
              `body ${i} still unanswered at the deadline: ${this.outcomes[i]!.attempts.join(',')}`,
            );
          const url = this.urls[(i + attempt + w) % this.urls.length]!;
          const r = await this.post(url, this.bodies[i]!);
          this.samples.push({ at: Date.now(), status: r.status });
          const o = this.outcomes[i]!;
          o.attempts.push(r.status);
          if (r.status === 201 || r.status === 409) {
            o.status = r.status;
            if (r.status === 201) o.doc = JSON.parse(r.text);
            else o.location = r.location;
            break;
          }
          if (r.status !== 503 && r.status !== 0) {
            throw new Error(`body ${i}: unexpected HTTP ${r.status}: ${r.text.slice(0, 300)}`);
          }
          if (r.status === 503)
            assert.ok(r.retryAfter !== undefined && /^[0-9]+$/.test(r.retryAfter), '503 carries Retry-After');
          attempt++;
          await sleep(this.opts.retryPauseMs ?? 200);
        }
      }
    };
    await Promise.all(Array.from({ length: this.opts.concurrency }, (_, w) => worker(w)));
  }

  private post(
    url: string,
    body: Buffer,
  ): Promise<{ status: number; text: string; location?: string; retryAfter?: string }> {
    const target = new URL('/api/v1/log/entries', url);
    return new Promise((res) => {
      const req = request(
        {
          agent: this.agent,
          hostname: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
          timeout: 60_000,
        },
        (resp) => {
          const chunks: Buffer[] = [];
          resp.on('data', (c: Buffer) => chunks.push(c));
          resp.on('end', () =>
            res({
              status: resp.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              location: resp.headers.location,
              retryAfter: resp.headers['retry-after'] as string | undefined,
            }),
          );
          resp.on('error', () => res({ status: 0, text: 'response error' }));
        },
      );
      req.on('error', (e) => res({ status: 0, text: e.message }));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }

  /** Starts run() in the background; finish() waits for it. */
  start(): this {
    this.running = this.run();
    return this;
  }

  /** Waits for the run start() began to answer every body, then closes the sockets. */
  async finish(): Promise<void> {
    try {
      await this.running;
    } finally {
      this.close();
    }
  }
}

/** `n` distinct bodies submitted over `urls` in the background (see LoadClient); finish() waits. */
export function startLoad(
  urls: readonly string[],
  n: number,
  opts: { concurrency: number; retryPauseMs?: number },
): LoadClient {
  return new LoadClient(urls, bodies(n), opts).start();
}

/** Distinct signed hashedrekord bodies. */
export function bodies(n: number): Buffer[] {
  return makeHashedrekords(n, 4);
}
