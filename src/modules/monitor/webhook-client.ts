/**
 * One webhook POST, SSRF-guarded: the host name is resolved once, EVERY address is checked with
 * the core's checkDestination, and the connection is pinned to a checked address (a second DNS
 * answer cannot redirect it). Redirects are never followed (a 3xx is just a status). TLS still
 * verifies the certificate against the URL's host name. Sent through the shared HTTP client
 * (src/net/http-client.ts) with a dispatcher of its own that carries the pinned lookup.
 */
import { lookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { Agent } from 'undici';
import { checkDestination } from '../../core/monitor';
import { sendOnce } from '../../net/http-client';

export interface PostResult {
  /** HTTP status, when a response arrived. */
  readonly status?: number;
  readonly retryAfter?: string;
  /** Network error, timeout or DNS failure. */
  readonly error?: string;
  /** Set when the destination was refused before connecting (SSRF guard). */
  readonly refused?: string;
  readonly durationMs: number;
}

export interface PostOptions {
  readonly timeoutMs: number;
  readonly allowPrivate: boolean;
  readonly resolveHost?: (hostname: string) => Promise<string[]>;
}

export async function defaultResolveHost(hostname: string): Promise<string[]> {
  const res = await lookup(hostname, { all: true, verbatim: true });
  return res.map((r) => r.address);
}

function hostOf(u: URL): string {
  const h = u.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** Resolves and checks a destination; the address to connect to, or why it is refused. */
export async function checkWebhookUrl(
  url: string,
  allowPrivate: boolean,
  resolveHost: (hostname: string) => Promise<string[]> = defaultResolveHost,
): Promise<{ address?: string; refused?: string; error?: string }> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { refused: 'not a valid URL' };
  }
  if (u.username !== '' || u.password !== '') return { refused: 'credentials in the URL are not allowed' };
  const host = hostOf(u);
  let addresses: string[] = [];
  if (isIP(host) === 0 && (u.protocol === 'http:' || u.protocol === 'https:') && host !== '') {
    try {
      addresses = await resolveHost(host);
    } catch (e) {
      return { error: `cannot resolve ${host}: ${(e as Error).message}` };
    }
  }
  const check = checkDestination(url, addresses, allowPrivate);
  if (check.forbidden) return { refused: check.reason ?? 'destination refused' };
  return { address: isIP(host) !== 0 ? host : addresses[0]! };
}

export async function postWebhook(
  url: string,
  body: Buffer,
  headers: Readonly<Record<string, string>>,
  opts: PostOptions,
): Promise<PostResult> {
  const started = performance.now();
  const done = (r: Omit<PostResult, 'durationMs'>): PostResult => ({
    ...r,
    durationMs: performance.now() - started,
  });
  const dest = await checkWebhookUrl(url, opts.allowPrivate, opts.resolveHost);
  if (dest.refused !== undefined) return done({ refused: dest.refused });
  if (dest.error !== undefined) return done({ error: dest.error });
  const address = dest.address!;
  const family = isIP(address) === 6 ? 6 : 4;
  const pinned: LookupFunction = (_hostname, options, cb) => {
    if ((options as { all?: boolean }).all)
      (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
        { address, family },
      ]);
    else cb(null, address, family);
  };
  // One connection per delivery, pinned to the checked address; TLS still checks the URL's name.
  const agent = new Agent({ connect: { lookup: pinned }, pipelining: 0 });
  try {
    // Read (and discard) at most 64 KiB of the answer, then close.
    const res = await sendOnce(url, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        'user-agent': 'Vellum-Webhooks/0.1',
      },
      body,
      timeoutMs: opts.timeoutMs,
      maxBodyBytes: 65_536,
      dispatcher: agent,
    });
    const retryAfter = res.headers.get('retry-after') ?? undefined;
    return done({ status: res.status, ...(retryAfter !== undefined ? { retryAfter } : {}) });
  } catch (e) {
    return done({ error: (e as Error).message });
  } finally {
    void agent.destroy().catch(() => undefined);
  }
}
