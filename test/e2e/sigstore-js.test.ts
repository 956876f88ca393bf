import assert from 'node:assert/strict';
import { createHash, randomBytes, sign as cryptoSign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, RekorWitness, type Signer } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, VerificationError, Verifier } from '@sigstore/verify';
import { newP256Key, TestKey } from './fixtures';
import { http, startTestServer, TestServer } from '../support/server';
import { logKeyFromPem, parseCheckpointNote } from '../support/verifier';

/**
 * The real sigstore-js clients against a running Vellum: @sigstore/sign 4.x signs with a local
 * P-256 key and logs through Vellum (RekorWitness, v1 API), @sigstore/verify 3.x verifies the
 * bundles offline against a hand-made TrustedRoot holding Vellum's key
 * (docs/clients.md), then the checks @sigstore/verify skips are made here.
 */
describe('sigstore-js signs through Vellum and verifies the bundles', () => {
  let server: TestServer;
  let artifactKey: TestKey;
  const HINT = 'vellum-test-key';
  process.env.NO_PROXY = '127.0.0.1,localhost';
  process.env.no_proxy = '127.0.0.1,localhost';

  before(async () => {
    // LOG_HOSTNAME=127.0.0.1:<port> (the helper's default): the checkpoint signer name must be a
    // substring of the trusted root's baseUrl.
    server = await startTestServer();
    artifactKey = newP256Key();
  });
  after(async () => {
    await server?.dispose();
  });

  /** Signs with node:crypto (ECDSA over SHA-256, DER); remembers signatures so a retry is identical. */
  function signer(deterministic = false): Signer {
    const memo = new Map<string, Buffer>();
    return {
      async sign(data: Buffer) {
        const k = data.toString('base64');
        let signature = deterministic ? memo.get(k) : undefined;
        if (!signature) {
          signature = cryptoSign('sha256', data, artifactKey.privateKey);
          memo.set(k, signature);
        }
        return { signature, key: { $case: 'publicKey', publicKey: artifactKey.pem, hint: HINT } };
      },
    };
  }

  function witness(fetchOnConflict = true): RekorWitness {
    return new RekorWitness({ rekorBaseURL: server.url, fetchOnConflict, retry: 0, timeout: 15_000 });
  }

  function trustedRoot(opts: { logKeyPem?: string; validFrom?: string } = {}): TrustedRoot {
    const k = logKeyFromPem(opts.logKeyPem ?? server.publicKeyPem);
    return TrustedRoot.fromJSON({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      certificateAuthorities: [],
      ctlogs: [],
      timestampAuthorities: [],
      tlogs: [
        {
          baseUrl: server.url,
          hashAlgorithm: 'SHA2_256',
          publicKey: {
            rawBytes: k.der.toString('base64'),
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
            validFor: { start: opts.validFrom ?? '2020-01-01T00:00:00Z' },
          },
          logId: { keyId: k.logId.toString('base64') },
        },
      ],
    });
  }

  function verifyBundle(json: unknown, artifact?: Buffer, root = trustedRoot()): void {
    const material = toTrustMaterial(root, {
      [HINT]: {
        rawBytes: artifactKey.der,
        keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
        validFor: { start: new Date(0) },
      },
    });
    const entity = toSignedEntity(bundleFromJSON(json), artifact);
    new Verifier(material).verify(entity);
  }

  function expectCode(fn: () => void, code: string): void {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof VerificationError, `expected VerificationError, got ${String(e)}`);
      assert.equal((e as VerificationError).code, code, (e as Error).message);
      return true;
    });
  }

  /** What @sigstore/verify does not check, checked here. */
  function checkSkipped(json: any): void {
    const [entry] = json.verificationMaterial.tlogEntries;
    const ip = entry.inclusionProof;
    const cp = parseCheckpointNote(ip.checkpoint.envelope);
    assert.equal(entry.logIndex, ip.logIndex, 'logIndex == inclusionProof.logIndex (one shard)');
    assert.equal(Number(ip.treeSize), cp.size, 'proof treeSize == checkpoint size');
    assert.equal(
      Buffer.from(ip.rootHash, 'base64').toString('hex'),
      cp.rootHash.toString('hex'),
      'proof root == checkpoint root',
    );
    assert.equal(cp.origin, `${server.ctx.hostname} - ${server.ctx.treeId}`, 'origin line');
    const now = Math.floor(Date.now() / 1000);
    const t = Number(entry.integratedTime);
    assert.ok(t <= now + 2 && t >= now - 120, `integratedTime ${t} is seconds, near ${now}`);
    const logId = createHash('sha256').update(logKeyFromPem(server.publicKeyPem).der).digest();
    assert.equal(entry.logId.keyId, logId.toString('base64'), 'logID = SHA-256(DER SPKI)');
    assert.ok(entry.inclusionPromise?.signedEntryTimestamp, 'bundle carries an SET');
  }

  const made: { json: any; artifact?: Buffer }[] = [];

  test('MessageSignatureBundleBuilder (hashedrekord) bundles verify, at several tree sizes', async () => {
    const builder = new MessageSignatureBundleBuilder({ signer: signer(), witnesses: [witness()] });
    for (let i = 0; i < 7; i++) {
      const artifact = randomBytes(100 + i);
      const bundle = await builder.create({ data: artifact });
      const json = bundleToJSON(bundle) as any;
      assert.equal(json.mediaType, 'application/vnd.dev.sigstore.bundle+json;version=0.2');
      assert.equal(json.verificationMaterial.tlogEntries[0].kindVersion.kind, 'hashedrekord');
      verifyBundle(json, artifact);
      checkSkipped(json);
      made.push({ json, artifact });
    }
  });

  test('DSSEBundleBuilder (dsse) bundles verify', async () => {
    const builder = new DSSEBundleBuilder({ signer: signer(), witnesses: [witness()] });
    for (let i = 0; i < 4; i++) {
      const payload = Buffer.from(
        JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', n: i, r: randomBytes(8).toString('hex') }),
      );
      const bundle = await builder.create({ data: payload, type: 'application/vnd.in-toto+json' });
      const json = bundleToJSON(bundle) as any;
      assert.equal(json.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
      assert.equal(json.verificationMaterial.tlogEntries[0].kindVersion.kind, 'dsse');
      verifyBundle(json);
      checkSkipped(json);
      made.push({ json });
    }
  });

  test('intoto entryType (legacy) bundles verify', async () => {
    const w = new RekorWitness({ rekorBaseURL: server.url, entryType: 'intoto', retry: 0, timeout: 15_000 });
    const builder = new DSSEBundleBuilder({ signer: signer(), witnesses: [w] });
    const payload = Buffer.from(
      JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', r: randomBytes(8).toString('hex') }),
    );
    const json = bundleToJSON(
      await builder.create({ data: payload, type: 'application/vnd.in-toto+json' }),
    ) as any;
    assert.equal(json.verificationMaterial.tlogEntries[0].kindVersion.kind, 'intoto');
    verifyBundle(json);
    checkSkipped(json);
  });

  test('bundles made at earlier sizes still verify after further appends', () => {
    for (const { json, artifact } of made) verifyBundle(json, artifact);
    const sizes = new Set(
      made.map(
        (m) =>
          parseCheckpointNote(m.json.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope)
            .size,
      ),
    );
    assert.ok(sizes.size >= 5, `proofs against ${sizes.size} distinct tree sizes`);
  });

  test('tampered bundles fail with the expected codes', () => {
    const { json, artifact } = made[made.length - 1 - 4]; // the last hashedrekord bundle: a proof with hashes
    const clone = () => JSON.parse(JSON.stringify(json));
    assert.ok(json.verificationMaterial.tlogEntries[0].inclusionProof.hashes.length > 0);

    let t = clone();
    const body = Buffer.from(t.verificationMaterial.tlogEntries[0].canonicalizedBody, 'base64');
    body[body.length - 3] ^= 1;
    t.verificationMaterial.tlogEntries[0].canonicalizedBody = body.toString('base64');
    expectCode(() => verifyBundle(t, artifact), 'TLOG_INCLUSION_PROMISE_ERROR');

    t = clone();
    t.verificationMaterial.tlogEntries[0].integratedTime = String(
      Number(t.verificationMaterial.tlogEntries[0].integratedTime) + 1,
    );
    expectCode(() => verifyBundle(t, artifact), 'TLOG_INCLUSION_PROMISE_ERROR');

    t = clone();
    const h = Buffer.from(t.verificationMaterial.tlogEntries[0].inclusionProof.hashes[0], 'base64');
    h[0] ^= 1;
    t.verificationMaterial.tlogEntries[0].inclusionProof.hashes[0] = h.toString('base64');
    expectCode(() => verifyBundle(t, artifact), 'TLOG_INCLUSION_PROOF_ERROR');

    t = clone();
    const env: string = t.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope;
    const lines = env.split('\n');
    const root = Buffer.from(lines[2], 'base64');
    root[0] ^= 1;
    lines[2] = root.toString('base64');
    t.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope = lines.join('\n');
    expectCode(() => verifyBundle(t, artifact), 'TLOG_INCLUSION_PROOF_ERROR');

    expectCode(() => verifyBundle(clone(), Buffer.concat([artifact!, Buffer.from('x')])), 'SIGNATURE_ERROR');
    const otherLogKey = newP256Key();
    expectCode(
      () => verifyBundle(clone(), artifact, trustedRoot({ logKeyPem: otherLogKey.pem })),
      'TLOG_INCLUSION_PROMISE_ERROR',
    );
    expectCode(
      () => verifyBundle(clone(), artifact, trustedRoot({ validFrom: '2999-01-01T00:00:00Z' })),
      'TLOG_INCLUSION_PROMISE_ERROR',
    );
  });

  test('a resubmission gets 409; fetchOnConflict turns it into the existing entry', async () => {
    const s = signer(true);
    const artifact = randomBytes(64);
    const first = bundleToJSON(
      await new MessageSignatureBundleBuilder({ signer: s, witnesses: [witness()] }).create({
        data: artifact,
      }),
    ) as any;
    const again = bundleToJSON(
      await new MessageSignatureBundleBuilder({ signer: s, witnesses: [witness(true)] }).create({
        data: artifact,
      }),
    ) as any;
    const [e1, e2] = [first.verificationMaterial.tlogEntries[0], again.verificationMaterial.tlogEntries[0]];
    assert.equal(e2.logIndex, e1.logIndex, 'the existing entry came back');
    assert.equal(e2.canonicalizedBody, e1.canonicalizedBody);
    verifyBundle(again, artifact);
    checkSkipped(again);

    await assert.rejects(
      new MessageSignatureBundleBuilder({ signer: s, witnesses: [witness(false)] }).create({
        data: artifact,
      }),
      (e: any) => {
        assert.equal(e.code, 'TLOG_CREATE_ENTRY_ERROR');
        assert.match(
          e.message,
          /\(409\) an equivalent entry already exists in the transparency log with UUID [0-9a-f]{80}/,
        );
        return true;
      },
    );
    const info = await http(`${server.url}/api/v1/log`);
    assert.equal(info.status, 200);
  });
});
