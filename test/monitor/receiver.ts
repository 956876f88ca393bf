import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface Delivery {
  path: string;
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  valid: boolean;
  /** What the receiver answered. */
  status: number;
}

/**
 * A webhook receiver that checks signatures the way the Standard Webhooks spec defines them,
 * independently of Vellum's code: HMAC-SHA256 keyed with the base64-decoded part of whsec_…,
 * over "<webhook-id>.<webhook-timestamp>.<body>", compared with each "v1,<base64>" in the header.
 */
export class Receiver {
  readonly server: Server;
  readonly deliveries: Delivery[] = [];
  readonly secrets = new Map<string, string>();
  /** Status codes to answer per path, consumed in order; then 200. */
  readonly script = new Map<string, number[]>();
  /** Runs before each answer (what was seen while the request was open; a slow receiver). */
  before: ((path: string, id: string) => Promise<void>) | undefined;
  url = '';

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      const timestamp = String(req.headers['webhook-timestamp'] ?? '');
      const signature = String(req.headers['webhook-signature'] ?? '');
      const secret = this.secrets.get(path);
      let valid = false;
      if (secret !== undefined) {
        const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
        const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
        valid = signature
          .split(' ')
          .filter((s) => s.startsWith('v1,'))
          .some((s) => {
            const got = Buffer.from(s.slice(3), 'base64');
            return got.length === mac.length && timingSafeEqual(got, mac);
          });
        valid &&= Math.abs(Number(timestamp) - Date.now() / 1000) < 300;
      }
      const queue = this.script.get(path) ?? [];
      const status = queue.length > 0 ? queue.shift()! : 200;
      this.deliveries.push({ path, id, timestamp, signature, body, valid, status });
      const answer = (): void => {
        if (status >= 300 && status < 400) res.setHeader('location', `${this.url}/ok`);
        res.statusCode = status;
        res.end(status === 200 ? 'ok' : 'nope');
      };
      if (this.before === undefined) answer();
      else void this.before(path, id).finally(answer);
    });
  }

  /** Accepted (200) deliveries to a path, deduplicated by webhook-id as a receiver should. */
  unique(path: string): Delivery[] {
    const seen = new Set<string>();
    return this.deliveries.filter(
      (d) => d.path === path && d.status === 200 && !seen.has(d.id) && seen.add(d.id),
    );
  }
}
