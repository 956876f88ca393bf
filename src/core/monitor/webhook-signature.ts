/**
 * Standard Webhooks (v1.0.0) symmetric signatures, as used by Vellum's webhook delivery
 * (docs/monitoring.md, "Webhooks"). Headers: `webhook-id`, `webhook-timestamp` (Unix seconds),
 * `webhook-signature`. Signed content: `<id>.<timestamp>.<exact body bytes>`; signature
 * `v1,<base64 HMAC-SHA256>` keyed with the bytes of a `whsec_<base64>` secret. Several
 * space-separated signatures may be sent (secret rotation); a receiver accepts any valid one.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { VellumError } from '../errors';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
export const WEBHOOK_SECRET_MIN_BYTES = 24;
export const WEBHOOK_SECRET_MAX_BYTES = 64;
/** Default receiver tolerance for `webhook-timestamp` (seconds either way). */
export const DEFAULT_TIMESTAMP_TOLERANCE_SECONDS = 300;

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A new `whsec_<base64>` secret from `size` (24–64, default 32) bytes of the injected random source. */
export function generateWebhookSecret(randomBytes: (n: number) => Uint8Array, size = 32): string {
  if (!Number.isInteger(size) || size < WEBHOOK_SECRET_MIN_BYTES || size > WEBHOOK_SECRET_MAX_BYTES) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `webhook secret size must be ${WEBHOOK_SECRET_MIN_BYTES}-${WEBHOOK_SECRET_MAX_BYTES} bytes`,
    );
  }
  const bytes = randomBytes(size);
  if (!(bytes instanceof Uint8Array) || bytes.length !== size) {
    throw new VellumError('INVALID_ARGUMENT', 'random source returned the wrong number of bytes');
  }
  return WEBHOOK_SECRET_PREFIX + Buffer.from(bytes).toString('base64');
}

/** The HMAC key bytes of a `whsec_<base64>` secret. */
export function decodeWebhookSecret(secret: string): Buffer {
  if (typeof secret !== 'string' || !secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    throw new VellumError('INVALID_ARGUMENT', `webhook secret must start with '${WEBHOOK_SECRET_PREFIX}'`);
  }
  const b64 = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (!B64_RE.test(b64)) throw new VellumError('INVALID_ARGUMENT', 'webhook secret is not valid base64');
  const key = Buffer.from(b64, 'base64');
  if (key.length < WEBHOOK_SECRET_MIN_BYTES || key.length > WEBHOOK_SECRET_MAX_BYTES) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `webhook secret must hold ${WEBHOOK_SECRET_MIN_BYTES}-${WEBHOOK_SECRET_MAX_BYTES} bytes`,
    );
  }
  return key;
}

function checkId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 256 || /[\s]/.test(id)) {
    throw new VellumError('INVALID_ARGUMENT', 'webhook id must be 1-256 characters without whitespace');
  }
}

function checkTimestamp(ts: number): void {
  if (!Number.isSafeInteger(ts) || ts < 0) {
    throw new VellumError('INVALID_ARGUMENT', 'webhook timestamp must be non-negative integer Unix seconds');
  }
}

function toBytes(body: string | Uint8Array): Buffer {
  return typeof body === 'string'
    ? Buffer.from(body, 'utf8')
    : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function mac(key: Buffer, id: string, ts: string, body: Buffer): Buffer {
  return createHmac('sha256', key).update(`${id}.${ts}.`, 'utf8').update(body).digest();
}

/** `v1,<base64 HMAC-SHA256(key, "<id>.<timestampSeconds>." ‖ body)>`. */
export function signWebhook(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string | Uint8Array,
): string {
  checkId(id);
  checkTimestamp(timestampSeconds);
  return `v1,${mac(decodeWebhookSecret(secret), id, String(timestampSeconds), toBytes(body)).toString('base64')}`;
}

/** The `webhook-signature` header value: one signature per active secret, space-separated. */
export function webhookSignatureHeader(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string | Uint8Array,
): string {
  if (secrets.length === 0) throw new VellumError('INVALID_ARGUMENT', 'no webhook secret');
  return secrets.map((s) => signWebhook(s, id, timestampSeconds, body)).join(' ');
}

/** All three Standard Webhooks headers for one delivery attempt. */
export function webhookHeaders(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string | Uint8Array,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': webhookSignatureHeader(secrets, id, timestampSeconds, body),
  };
}

export interface VerifyWebhookInput {
  /** The receiver's secret(s); during rotation both old and new. */
  readonly secrets: string | readonly string[];
  /** `webhook-id` header. */
  readonly id: string;
  /** `webhook-timestamp` header, as received. */
  readonly timestamp: string;
  /** `webhook-signature` header, as received. */
  readonly signature: string;
  readonly body: string | Uint8Array;
  readonly nowSeconds: number;
  readonly toleranceSeconds?: number;
}

export type VerifyWebhookResult =
  | { readonly ok: true; /** Index of the secret that verified. */ readonly secretIndex: number }
  | {
      readonly ok: false;
      readonly reason:
        | 'bad-id'
        | 'bad-timestamp'
        | 'timestamp-too-old'
        | 'timestamp-too-new'
        | 'no-v1-signature'
        | 'mismatch';
    };

/** Receiver-side check (also used by tests and the CLI): tolerance, then any `v1` signature under any secret. */
export function verifyWebhook(input: VerifyWebhookInput): VerifyWebhookResult {
  const tol = input.toleranceSeconds ?? DEFAULT_TIMESTAMP_TOLERANCE_SECONDS;
  if (typeof input.timestamp !== 'string' || !/^(?:0|[1-9][0-9]{0,15})$/.test(input.timestamp)) {
    return { ok: false, reason: 'bad-timestamp' };
  }
  const ts = Number(input.timestamp);
  if (ts < input.nowSeconds - tol) return { ok: false, reason: 'timestamp-too-old' };
  if (ts > input.nowSeconds + tol) return { ok: false, reason: 'timestamp-too-new' };
  const candidates: Buffer[] = [];
  for (const part of String(input.signature).split(' ')) {
    const comma = part.indexOf(',');
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue;
    const b64 = part.slice(comma + 1);
    if (!B64_RE.test(b64)) continue;
    const sig = Buffer.from(b64, 'base64');
    if (sig.length === 32) candidates.push(sig);
  }
  if (candidates.length === 0) return { ok: false, reason: 'no-v1-signature' };
  if (typeof input.id !== 'string' || input.id.length === 0 || input.id.length > 256 || /\s/.test(input.id)) {
    return { ok: false, reason: 'bad-id' };
  }
  const body = toBytes(input.body);
  const secrets = typeof input.secrets === 'string' ? [input.secrets] : input.secrets;
  for (let i = 0; i < secrets.length; i++) {
    const expected = mac(decodeWebhookSecret(secrets[i]!), input.id, input.timestamp, body);
    for (const c of candidates) if (timingSafeEqual(expected, c)) return { ok: true, secretIndex: i };
  }
  return { ok: false, reason: 'mismatch' };
}
