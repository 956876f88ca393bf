import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { isVellumError } from '../../src/core/errors';
import {
  MAX_DELIVERY_ATTEMPTS,
  RETRY_SCHEDULE_MS,
  classifyDeliveryResponse,
  nextAttemptDelayMs,
  parseRetryAfterMs,
} from '../../src/core/monitor/delivery';
import { evaluate } from '../../src/core/monitor/evaluate';
import { buildIdentityEvent, eventId, isoTimestamp } from '../../src/core/monitor/events';
import { extractIdentities } from '../../src/core/monitor/identity';
import { parseRules } from '../../src/core/monitor/rules';
import {
  decodeWebhookSecret,
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  webhookHeaders,
  webhookSignatureHeader,
} from '../../src/core/monitor/webhook-signature';
import { logEvent } from '../../src/modules/monitor/monitor-events';
import { buildCa, buildCertificate, fulcioExt, hashedrekordBody } from '../support/x509-builder';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const MSG_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const BODY = '{"test": 2432232314}';

/** The spec's definition, written out independently of the implementation. */
function referenceSignature(secret: string, id: string, ts: number, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return 'v1,' + createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
}

describe('Standard Webhooks signatures', () => {
  it('known answer: the published Standard Webhooks vector and an independent HMAC', () => {
    const sig = signWebhook(SECRET, MSG_ID, TS, BODY);
    assert.equal(sig, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    assert.equal(sig, referenceSignature(SECRET, MSG_ID, TS, BODY));
    // Bytes and string bodies sign the same.
    assert.equal(signWebhook(SECRET, MSG_ID, TS, Buffer.from(BODY)), sig);
  });

  it('signs the exact body bytes (one byte changed, one signature changed)', () => {
    assert.notEqual(signWebhook(SECRET, MSG_ID, TS, BODY + ' '), signWebhook(SECRET, MSG_ID, TS, BODY));
    assert.notEqual(signWebhook(SECRET, MSG_ID, TS + 1, BODY), signWebhook(SECRET, MSG_ID, TS, BODY));
  });

  it('verifies with tolerance', () => {
    const signature = signWebhook(SECRET, MSG_ID, TS, BODY);
    const base = { secrets: SECRET, id: MSG_ID, timestamp: String(TS), signature, body: BODY };
    assert.deepEqual(verifyWebhook({ ...base, nowSeconds: TS + 299 }), { ok: true, secretIndex: 0 });
    assert.deepEqual(verifyWebhook({ ...base, nowSeconds: TS + 301 }), {
      ok: false,
      reason: 'timestamp-too-old',
    });
    assert.deepEqual(verifyWebhook({ ...base, nowSeconds: TS - 301 }), {
      ok: false,
      reason: 'timestamp-too-new',
    });
    assert.deepEqual(verifyWebhook({ ...base, nowSeconds: TS + 1000, toleranceSeconds: 1000 }), {
      ok: true,
      secretIndex: 0,
    });
    assert.deepEqual(verifyWebhook({ ...base, timestamp: '1e9', nowSeconds: TS }), {
      ok: false,
      reason: 'bad-timestamp',
    });
    assert.deepEqual(verifyWebhook({ ...base, body: BODY + 'x', nowSeconds: TS }), {
      ok: false,
      reason: 'mismatch',
    });
    assert.deepEqual(verifyWebhook({ ...base, id: 'msg_other', nowSeconds: TS }), {
      ok: false,
      reason: 'mismatch',
    });
    assert.deepEqual(verifyWebhook({ ...base, signature: 'v1a,abc', nowSeconds: TS }), {
      ok: false,
      reason: 'no-v1-signature',
    });
  });

  it('secret rotation: several signatures in the header, several secrets at the receiver', () => {
    const newSecret = generateWebhookSecret((n) => Buffer.alloc(n, 7));
    const header = webhookSignatureHeader([SECRET, newSecret], MSG_ID, TS, BODY);
    const parts = header.split(' ');
    assert.equal(parts.length, 2);
    assert.equal(parts[1], referenceSignature(newSecret, MSG_ID, TS, BODY));
    // A receiver that already switched to the new secret accepts the old+new header.
    assert.deepEqual(
      verifyWebhook({
        secrets: [newSecret],
        id: MSG_ID,
        timestamp: String(TS),
        signature: header,
        body: BODY,
        nowSeconds: TS,
      }),
      {
        ok: true,
        secretIndex: 0,
      },
    );
    // A receiver holding both secrets accepts a header signed only with the new one.
    const onlyNew = signWebhook(newSecret, MSG_ID, TS, BODY);
    assert.deepEqual(
      verifyWebhook({
        secrets: [SECRET, newSecret],
        id: MSG_ID,
        timestamp: String(TS),
        signature: `v1,bm9wZQ== ${onlyNew}`,
        body: BODY,
        nowSeconds: TS,
      }),
      {
        ok: true,
        secretIndex: 1,
      },
    );
    // A retired secret alone no longer verifies.
    assert.deepEqual(
      verifyWebhook({
        secrets: [SECRET],
        id: MSG_ID,
        timestamp: String(TS),
        signature: onlyNew,
        body: BODY,
        nowSeconds: TS,
      }),
      {
        ok: false,
        reason: 'mismatch',
      },
    );
  });

  it('headers', () => {
    const h = webhookHeaders([SECRET], MSG_ID, TS, BODY);
    assert.deepEqual(h, {
      'webhook-id': MSG_ID,
      'webhook-timestamp': String(TS),
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  it('secrets: generation from an injected source, validation', () => {
    const s = generateWebhookSecret((n) => Buffer.alloc(n, 1), 24);
    assert.equal(s, 'whsec_' + Buffer.alloc(24, 1).toString('base64'));
    assert.equal(decodeWebhookSecret(s).length, 24);
    const bad = (f: () => unknown) => assert.throws(f, (e) => isVellumError(e, 'INVALID_ARGUMENT'));
    bad(() => generateWebhookSecret((n) => Buffer.alloc(n), 16));
    bad(() => generateWebhookSecret(() => Buffer.alloc(3)));
    bad(() => decodeWebhookSecret('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'));
    bad(() => decodeWebhookSecret('whsec_AAAA'));
    bad(() => signWebhook(SECRET, 'has space', TS, BODY));
    bad(() => signWebhook(SECRET, MSG_ID, -1, BODY));
  });
});

describe('retry schedule and response classes', () => {
  const mid = { random: () => 0.5 };
  it('follows immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h, then gives up', () => {
    const want = [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400].map((s) => s * 1000);
    assert.deepEqual(RETRY_SCHEDULE_MS, want);
    for (let a = 1; a <= MAX_DELIVERY_ATTEMPTS; a++)
      assert.equal(nextAttemptDelayMs(a, undefined, mid), want[a - 1]);
    assert.equal(nextAttemptDelayMs(MAX_DELIVERY_ATTEMPTS + 1, undefined, mid), null);
    const total = want.reduce((x, y) => x + y, 0) / 3_600_000;
    assert.ok(total > 72 && total < 80, `${total} h`);
  });

  it('jitter comes from the injected source, ±10% by default', () => {
    assert.equal(nextAttemptDelayMs(2, undefined, { random: () => 0 }), 4500);
    assert.equal(nextAttemptDelayMs(2, undefined, { random: () => 0.999999 }), 5500);
    assert.equal(nextAttemptDelayMs(3, undefined, { random: () => 0.25, jitter: 0.2 }), 300_000 * 0.9);
    assert.throws(
      () => nextAttemptDelayMs(2, undefined, { random: () => 1 }),
      (e) => isVellumError(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => nextAttemptDelayMs(0, undefined, mid),
      (e) => isVellumError(e, 'INVALID_ARGUMENT'),
    );
  });

  it('honours Retry-After (seconds or HTTP-date), capped', () => {
    assert.equal(nextAttemptDelayMs(2, '120', mid), 120_000);
    assert.equal(nextAttemptDelayMs(3, '10', mid), 300_000); // never earlier than the schedule
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    assert.equal(nextAttemptDelayMs(2, 'Thu, 01 Jan 2026 00:10:00 GMT', { ...mid, nowMs: now }), 600_000);
    assert.equal(nextAttemptDelayMs(2, '9999999', mid), 24 * 3_600_000);
    assert.equal(nextAttemptDelayMs(2, 'soon', mid), 5000);
    assert.equal(parseRetryAfterMs('Thu, 01 Jan 2026 00:10:00 GMT'), undefined); // no clock, no date
  });

  it('classifies responses', () => {
    const table: Array<[number | undefined, string]> = [
      [200, 'ok'],
      [204, 'ok'],
      [299, 'ok'],
      [301, 'failure-no-follow'],
      [302, 'failure-no-follow'],
      [308, 'failure-no-follow'],
      [410, 'disable'],
      [429, 'throttle'],
      [502, 'throttle'],
      [504, 'throttle'],
      [400, 'retry'],
      [404, 'retry'],
      [500, 'retry'],
      [503, 'retry'],
      [100, 'retry'],
      [undefined, 'retry'],
    ];
    for (const [status, want] of table) assert.equal(classifyDeliveryResponse(status), want, String(status));
  });
});

describe('events', () => {
  it('event id: SHA-256 of the length-prefixed fields, stable and unambiguous', () => {
    const manual = createHash('sha256');
    const lp = (s: string) => {
      const b = Buffer.from(s, 'utf8');
      const l = Buffer.alloc(4);
      l.writeUInt32BE(b.length);
      return Buffer.concat([l, b]);
    };
    const idx = Buffer.alloc(8);
    idx.writeBigUInt64BE(42n);
    manual.update(
      Buffer.concat([lp('log.example - 1'), idx, lp('release-signer'), lp('identity.unexpected')]),
    );
    const id = eventId('log.example - 1', 42, 'release-signer', 'identity.unexpected');
    assert.equal(id, manual.digest('hex'));
    assert.equal(eventId('log.example - 1', 42n, 'release-signer', 'identity.unexpected'), id);
    // Field boundaries matter.
    assert.notEqual(eventId('ab', 1, 'c', 'identity.matched'), eventId('a', 1, 'bc', 'identity.matched'));
    assert.notEqual(eventId('a', 1, 'r', 'identity.matched'), eventId('a', 2, 'r', 'identity.matched'));
    assert.notEqual(eventId('a', 1, 'r', 'identity.matched'), eventId('a', 1, 'r', 'entry.malformed'));
    assert.throws(
      () => eventId('a', -1, 'r', 'identity.matched'),
      (e) => isVellumError(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => eventId('a', 1, 'r', 'nope' as never),
      (e) => isVellumError(e, 'INVALID_ARGUMENT'),
    );
  });

  it('timestamps are RFC 3339 UTC without reading a clock', () => {
    for (const t of [0, 951782400000, 1614265330123, 4102444799999, 1709251199999]) {
      assert.equal(isoTimestamp(t), new Date(t).toISOString());
    }
  });

  it('identity event: payload {type, timestamp, data}, stable id, escaped summary, raw values', () => {
    const ca = buildCa();
    const hostile = 'x@channel <!here> [click](https://evil.example)';
    const c = buildCertificate({
      issuer: ca,
      sans: [{ email: hostile }],
      extensions: [fulcioExt(8, 'https://i')],
    });
    const identity = extractIdentities(hashedrekordBody(c.pem));
    const rules = parseRules({
      apiVersion: 'monitor.vellum/v1',
      kind: 'IdentityRule',
      metadata: { name: 'r' },
      spec: { scope: [{ issuer: 'https://i' }] },
    }).rules;
    const [outcome] = evaluate(rules, identity);
    const ctx = {
      logOrigin: 'log.example - 1',
      index: 7,
      leafHash: 'aa'.repeat(32),
      evidence: { checkpoint: 'note' },
    };
    const built = buildIdentityEvent(outcome!, identity, ctx, 1_700_000_000_000);
    const again = buildIdentityEvent(outcome!, identity, ctx, 1_700_000_999_000);
    assert.equal(built.id, again.id);
    assert.equal(built.id, eventId('log.example - 1', 7, 'r', 'identity.matched'));
    const parsed = JSON.parse(built.body.toString('utf8'));
    assert.deepEqual(Object.keys(parsed), ['type', 'timestamp', 'data']);
    assert.equal(parsed.type, 'identity.matched');
    assert.equal(parsed.timestamp, '2023-11-14T22:13:20.000Z');
    assert.equal(parsed.data.logIndex, '7');
    assert.equal(parsed.data.signers[0].subjects[0].value, hostile); // raw in structured data
    assert.doesNotMatch(parsed.data.summary, /@channel|<!here>|https:\/\//); // escaped in text
    assert.deepEqual(parsed.data.evidence, { checkpoint: 'note' });
    // The body is what gets signed.
    const sig = signWebhook(SECRET, built.id, 1_700_000_000, built.body);
    assert.equal(
      sig,
      'v1,' +
        createHmac('sha256', decodeWebhookSecret(SECRET))
          .update(`${built.id}.1700000000.`)
          .update(built.body)
          .digest('base64'),
    );
  });

  it('log events use the same id scheme', () => {
    const e = logEvent('log.inconsistent', 'log.example - 1', 100, 0, { notes: ['a', 'b'] });
    assert.equal(e.id, eventId('log.example - 1', 100, 'log.inconsistent', 'log.tamper'));
    assert.deepEqual(JSON.parse(e.body.toString()), {
      type: 'log.inconsistent',
      timestamp: '1970-01-01T00:00:00.000Z',
      data: { notes: ['a', 'b'] },
    });
  });
});
