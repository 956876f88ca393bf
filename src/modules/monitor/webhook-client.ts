/**
 * One webhook POST, SSRF-guarded: the host name is resolved once, EVERY address is checked with
 * the core's checkDestination, and the connection is pinned to a checked address (a second DNS
 * answer cannot redirect it). Redirects are never followed (a 3xx is just a status). TLS still
 * verifies the certificate against the URL's host name.
 */
import { lookup } from 'node:dns/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { checkDestination } from '../../core/monitor';

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
  readonly userAgent?: string;
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
  const u = new URL(url);
  const address = dest.address!;
  const family = isIP(address) === 6 ? 6 : 4;
  const pinned: LookupFunction = (_hostname, options, cb) => {
    if ((options as { all?: boolean }).all)
      (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
        { address, family },
      ]);
    else cb(null, address, family);
  };
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve) => {
    let settled = false;
    const finish = (r: Omit<PostResult, 'durationMs'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(done(r));
    };
    const req = mod.request(
      {
        protocol: u.protocol,
        hostname: hostOf(u),
        port: u.port === '' ? undefined : Number(u.port),
        path: `${u.pathname}${u.search}`,
        method: 'POST',
        agent: false,
        lookup: pinned,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(body.length),
          'user-agent': opts.userAgent ?? 'Vellum-Webhooks/0.1',
        },
      },
      (res) => {
        const status = res.statusCode;
        const ra = res.headers['retry-after'];
        const retryAfter = Array.isArray(ra) ? ra[0] : ra;
        // Read (and discard) at most 64 KiB of the answer, then close.
        let seen = 0;
        res.on('data', (c: Buffer) => {
          seen += c.length;
          if (seen > 65_536) res.destroy();
        });
        const end = (): void => finish({ status, ...(retryAfter !== undefined ? { retryAfter } : {}) });
        res.on('end', end);
        res.on('close', end);
        res.on('error', end);
      },
    );
    const deadline = setTimeout(() => {
      req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    req.on('error', (e) => finish({ error: e.message }));
    req.end(body);
  });
}
