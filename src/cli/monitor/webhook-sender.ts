/**
 * The monitor CLI's optional webhook: each event POSTed with a Standard Webhooks signature,
 * retried a few times, through the server's SSRF-guarded webhook client (private addresses are
 * allowed here: the operator named the URL on the command line).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { webhookHeaders } from '../../core/monitor';
import { postWebhook } from '../../modules/monitor/webhook-client';

export interface WebhookTarget {
  readonly url: string;
  readonly secret: string;
}

export class WebhookSender {
  constructor(
    private readonly target: WebhookTarget | undefined,
    private readonly o: {
      readonly now: () => number;
      readonly err: (line: string) => void;
      /** Delays between attempts (default 0, 1 s, 5 s). */
      readonly retryMs?: readonly number[];
    },
  ) {}

  /** True when delivered (or when no webhook is configured). */
  async send(id: string, body: Buffer): Promise<boolean> {
    const w = this.target;
    if (w === undefined) return true;
    let last = '';
    for (const d of this.o.retryMs ?? [0, 1000, 5000]) {
      if (d > 0) await sleep(d);
      const ts = Math.floor(this.o.now() / 1000);
      const res = await postWebhook(w.url, body, webhookHeaders([w.secret], id, ts, body), {
        timeoutMs: 20_000,
        allowPrivate: true,
      });
      if (res.status !== undefined && res.status >= 200 && res.status < 300) return true;
      last = res.refused ?? res.error ?? `HTTP ${res.status}`;
      if (res.refused !== undefined || res.status === 410) break;
    }
    this.o.err(`webhook delivery of ${id} failed: ${last}`);
    return false;
  }
}
