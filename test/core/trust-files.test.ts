/**
 * TrustedRoot and SigningConfig documents. @sigstore/protobuf-specs ships no JSON schema, so each
 * document is checked with the protobuf-JSON reader that clients use (TrustedRoot.fromJSON /
 * SigningConfig.fromJSON, whose enum readers throw on unknown names) round-tripped through
 * toJSON, plus a strict field check: the round trip must give back exactly our document, so a
 * misspelt or unknown field (which fromJSON drops) or a wrong type fails. Known instances: the
 * production Rekor v1 tlog and the staging Rekor v2 Ed25519 tlog.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { logVerifierKeys } from '../../src/core/checkpoint';
import { isVellumError } from '../../src/core/errors';
import { LogPublicKey, LogSigningKey } from '../../src/core/keys';
import {
  buildSigningConfig,
  extendSigningConfig,
  withRekorVersions,
  SIGNING_CONFIG_MEDIA_TYPE,
} from '../../src/core/trust/signing-config';
import {
  buildTrustedRoot,
  extendTrustedRoot,
  TRUSTED_ROOT_MEDIA_TYPE,
} from '../../src/core/trust/trusted-root';
import { readVector } from '../support/paths';

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/**
 * toJSON leaves out empty repeated fields and writes timestamps with milliseconds; ours lists
 * empty arrays and writes whole seconds. Both sides are brought to that one form before comparing.
 */
function normalized(v: unknown): unknown {
  if (typeof v === 'string' && TIMESTAMP.test(v)) return new Date(v).toISOString();
  if (Array.isArray(v)) return v.map(normalized);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (Array.isArray(x) && x.length === 0) continue;
      out[k] = normalized(x);
    }
    return out;
  }
  return v;
}

function strictTrustedRoot(doc: unknown): void {
  const json = JSON.parse(JSON.stringify(doc));
  assert.deepEqual(normalized(TrustedRoot.toJSON(TrustedRoot.fromJSON(json))), normalized(json));
}

function strictSigningConfig(doc: unknown): void {
  const json = JSON.parse(JSON.stringify(doc));
  assert.deepEqual(normalized(SigningConfig.toJSON(SigningConfig.fromJSON(json))), normalized(json));
}

const invalidArg = (e: unknown) => isVellumError(e, 'INVALID_ARGUMENT');

describe('TrustedRoot', () => {
  it('the strict check catches what fromJSON would silently drop or reject', () => {
    const root = buildTrustedRoot({
      baseUrl: 'http://log.example',
      signerName: 'log.example',
      logKey: LogSigningKey.generate('ecdsa-p256').publicKey,
      validFrom: '2026-01-01T00:00:00Z',
    });
    strictTrustedRoot(root);
    assert.throws(() => strictTrustedRoot({ ...root, tlog: root.tlogs }));
    assert.throws(() =>
      strictTrustedRoot({ ...root, tlogs: [{ ...root.tlogs[0], logID: root.tlogs[0]!.logId }] }),
    );
    const badEnum = { ...root.tlogs[0]!, publicKey: { ...root.tlogs[0]!.publicKey, keyDetails: 'P256' } };
    assert.throws(() => strictTrustedRoot({ ...root, tlogs: [badEnum] }));
  });

  it('an ECDSA log is one tlog, equal to the production Rekor v1 entry for that key', () => {
    const vec = readVector<{ mediaType: string; tlog: any }>('rekor-production.json');
    const tlog = (vec as any).trustedRoot.tlog;
    const key = LogPublicKey.fromDer(Buffer.from(tlog.publicKey.rawBytes, 'base64'));
    const root = buildTrustedRoot({
      baseUrl: tlog.baseUrl,
      signerName: 'rekor.sigstore.dev',
      logKey: key,
      validFrom: tlog.publicKey.validFor.start,
    });
    assert.equal(root.mediaType, TRUSTED_ROOT_MEDIA_TYPE);
    assert.equal(root.mediaType, (vec as any).trustedRoot.mediaType);
    assert.deepEqual(root.tlogs, [tlog]);
    assert.deepEqual([root.certificateAuthorities, root.ctlogs, root.timestampAuthorities], [[], [], []]);
    strictTrustedRoot(root);
  });

  it('an Ed25519 log is two tlogs: v1 face SHA-256(SPKI), v2 face equal to the staging Rekor v2 entry', () => {
    const ex = readVector<{ examples: any[] }>('c2sp-notes.json').examples.find(
      (e) => e.name === 'rekor-v2-ed25519-checkpoint',
    )!;
    const tlog = ex.trustedRootTlog;
    const key = LogPublicKey.fromDer(Buffer.from(tlog.publicKey.rawBytes, 'base64'));
    const root = buildTrustedRoot({
      baseUrl: tlog.baseUrl,
      signerName: ex.keyName,
      logKey: key,
      validFrom: tlog.publicKey.validFor.start,
    });
    assert.equal(root.tlogs.length, 2);
    const [v1, v2] = root.tlogs;
    // The vector's key has an end date (a rotated shard); ours are open-ended.
    const { end: _end, ...openEnded } = tlog.publicKey.validFor;
    assert.deepEqual(v2, { ...tlog, publicKey: { ...tlog.publicKey, validFor: openEnded } });
    assert.equal(v1!.logId.keyId, key.logId.toString('base64'));
    assert.deepEqual(v1!.publicKey, v2!.publicKey);
    assert.equal(v1!.publicKey.keyDetails, 'PKIX_ED25519');
    strictTrustedRoot(root);
    // The C2SP vkey we publish for such a log is the one built from the trusted root's key.
    assert.deepEqual(logVerifierKeys(ex.keyName, key, undefined), [ex.vkey]);
  });

  it('extendTrustedRoot adds CA and TSA chains; bad input is INVALID_ARGUMENT', () => {
    const root = buildTrustedRoot({
      baseUrl: 'https://log.example/prefix',
      signerName: 'log.example',
      logKey: LogSigningKey.generate('ed25519').publicKey,
      validFrom: '2026-01-01T00:00:00.5Z',
    });
    const chain = {
      certificates: [Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])],
      validFrom: '2025-05-01T10:00:00Z',
    };
    const ext = extendTrustedRoot(root, {
      certificateAuthorities: [{ ...chain, uri: 'https://fulcio.example' }],
      timestampAuthorities: [chain],
    });
    assert.deepEqual(ext.certificateAuthorities, [
      {
        uri: 'https://fulcio.example',
        certChain: { certificates: [{ rawBytes: 'MAMCAQE=' }] },
        validFor: { start: '2025-05-01T10:00:00Z' },
      },
    ]);
    assert.equal(ext.timestampAuthorities.length, 1);
    assert.deepEqual(ext.tlogs, root.tlogs);
    strictTrustedRoot(ext);
    assert.throws(
      () => extendTrustedRoot(root, { certificateAuthorities: [{ ...chain, certificates: [] }] }),
      invalidArg,
    );
    assert.throws(
      () => extendTrustedRoot(root, { timestampAuthorities: [{ ...chain, validFrom: '2025-05-01' }] }),
      invalidArg,
    );
    assert.throws(() => extendTrustedRoot({ ...root, mediaType: 'x' as never }, {}), invalidArg);
  });

  it('rejects base URLs clients could not use and non-RFC 3339 times', () => {
    const logKey = LogSigningKey.generate('ecdsa-p256').publicKey;
    const base = {
      baseUrl: 'http://log.example',
      signerName: 'log.example',
      logKey,
      validFrom: '2026-01-01T00:00:00Z',
    };
    for (const baseUrl of [
      'log.example',
      'ftp://log.example',
      'http://log.example/',
      'http://log.example?x=1',
      'http://a b',
    ])
      assert.throws(() => buildTrustedRoot({ ...base, baseUrl }), invalidArg, baseUrl);
    for (const validFrom of ['2026-01-01', '2026-01-01T00:00:00+01:00', 'yesterday'])
      assert.throws(() => buildTrustedRoot({ ...base, validFrom }), invalidArg, validFrom);
  });
});

describe('SigningConfig v0.2', () => {
  const base = { baseUrl: 'https://log.example', operator: 'log.example', validFrom: '2026-02-03T04:05:06Z' };

  it('lists the log as Rekor v2 and v1, selector ANY, no CA/OIDC/TSA by default', () => {
    const sc = buildSigningConfig(base);
    assert.equal(sc.mediaType, SIGNING_CONFIG_MEDIA_TYPE);
    assert.deepEqual(
      sc.rekorTlogUrls.map((s) => [s.url, s.majorApiVersion, s.validFor.start, s.operator]),
      [
        ['https://log.example', 2, '2026-02-03T04:05:06Z', 'log.example'],
        ['https://log.example', 1, '2026-02-03T04:05:06Z', 'log.example'],
      ],
    );
    assert.deepEqual(sc.rekorTlogConfig, { selector: 'ANY' });
    assert.deepEqual([sc.caUrls, sc.oidcUrls, sc.tsaUrls], [[], [], []]);
    assert.equal(sc.tsaConfig, undefined);
    strictSigningConfig(sc);
    assert.equal(SigningConfig.fromJSON(sc).rekorTlogUrls[0]!.majorApiVersion, 2);
  });

  it('extendSigningConfig adds services; a TSA brings a tsaConfig', () => {
    const svc = (url: string) => ({ url, majorApiVersion: 1, validFrom: base.validFrom, operator: 'ex' });
    const sc = extendSigningConfig(buildSigningConfig(base), {
      caUrls: [svc('https://fulcio.example')],
      oidcUrls: [svc('https://oauth2.example/auth')],
      tsaUrls: [svc('https://tsa.example/api/v1/timestamp')],
    });
    assert.deepEqual(
      sc.caUrls.map((s) => s.url),
      ['https://fulcio.example'],
    );
    assert.deepEqual(
      sc.oidcUrls.map((s) => s.url),
      ['https://oauth2.example/auth'],
    );
    assert.deepEqual(
      sc.tsaUrls.map((s) => s.url),
      ['https://tsa.example/api/v1/timestamp'],
    );
    assert.deepEqual(sc.tsaConfig, { selector: 'ANY' });
    strictSigningConfig(sc);
    assert.throws(
      () => extendSigningConfig(sc, { caUrls: [{ ...svc('https://x.example'), operator: '' }] }),
      invalidArg,
    );
    assert.throws(
      () => extendSigningConfig(sc, { caUrls: [{ ...svc('https://x.example'), majorApiVersion: 0 }] }),
      invalidArg,
    );
    assert.throws(() => buildSigningConfig({ ...base, baseUrl: 'https://log.example/' }), invalidArg);
    assert.deepEqual(
      withRekorVersions(sc, [1]).rekorTlogUrls.map((s) => s.majorApiVersion),
      [1],
    );
    assert.throws(() => withRekorVersions(sc, [3]), invalidArg);
  });
});
