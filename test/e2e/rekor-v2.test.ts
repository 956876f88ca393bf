/**
 * The real sigstore-js Rekor v2 path against a running Vellum: @sigstore/sign 4.x with
 * `majorApiVersion: 2` logs message signatures (hashedrekord 0.0.2) and DSSE envelopes
 * (dsse 0.0.2) through POST /api/v2/log/entries, and @sigstore/verify 3.x verifies the bundles
 * offline against a TrustedRoot (test/support/trusted-root.ts) with `timestampThreshold: 0`, as v2
 * entries carry no SET. Once for a P-256 and once for an Ed25519 log key. Then: what verify skips
 * is checked by hand, tampered bundles are rejected, and v2 entries are found by the v1 search
 * and GET. Error answers (409, 4xx, 503) are in rekor-v2-errors.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, RekorWitness, type Signer } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, VerificationError, Verifier } from '@sigstore/verify';
import { newP256Key, type TestKey } from './fixtures';
import { http, postJson, startTestServer, tempDir, type TestServer } from '../support/server';
import {
  leafHashOf,
  logKeyFromPem,
  parseCheckpointNote,
  verifyCheckpointNote,
  verifyInclusion,
  type LogKey,
} from '../support/verifier';
import { printedTrustedRoot, rekorV2LogIdOf, withOtherLogKey } from '../support/trusted-root';
import { buildCertificate } from '../support/x509-builder';

process.env.NO_PROXY = '127.0.0.1,localhost';
process.env.no_proxy = '127.0.0.1,localhost';
const HINT = 'vellum-v2-test-key';

for (const logKeyType of ['P-256', 'Ed25519'] as const) {
  describe(`sigstore-js v2 through Vellum, ${logKeyType} log key`, () => {
    let server: TestServer;
    let artifactKey: TestKey;
    const made: Array<{ json: any; artifact?: Buffer }> = [];

    before(async () => {
      const env: Record<string, string> = {};
      if (logKeyType === 'Ed25519') {
        const dir = tempDir('vellum-v2-key-');
        const path = join(dir, 'ed25519.pem');
        const { privateKey } = generateKeyPairSync('ed25519');
        writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
        env.SIGNING_KEY_PATH = path;
      }
      server = await startTestServer({ env });
      artifactKey = newP256Key();
      assert.equal(server.ctx.key.key.asymmetricKeyType, logKeyType === 'Ed25519' ? 'ed25519' : 'ec');
      printed = await printedTrustedRoot(server.url);
    });
    after(async () => {
      await server?.dispose();
    });

    const signer = (): Signer => ({
      async sign(data: Buffer) {
        return {
          signature: cryptoSign('sha256', data, artifactKey.privateKey),
          key: { $case: 'publicKey', publicKey: artifactKey.pem, hint: HINT },
        };
      },
    });
    const witness = () =>
      new RekorWitness({ rekorBaseURL: server.url, majorApiVersion: 2, retry: 0, timeout: 20_000 });
    // What `vellum trust-root` printed for this server (read in before()), optionally re-keyed.
    let printed: Record<string, unknown>;
    const trustedRoot = (other?: LogKey) =>
      TrustedRoot.fromJSON(other === undefined ? printed : withOtherLogKey(printed, other));

    function verifyBundle(json: unknown, artifact?: Buffer, root = trustedRoot()): void {
      const material = toTrustMaterial(root, {
        [HINT]: {
          rawBytes: artifactKey.der,
          keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
          validFor: { start: new Date(0) },
        },
      });
      new Verifier(material, { timestampThreshold: 0 }).verify(
        toSignedEntity(bundleFromJSON(json), artifact),
      );
    }

    function expectCode(fn: () => void, code: string): void {
      assert.throws(fn, (e: unknown) => {
        assert.ok(e instanceof VerificationError, `expected VerificationError, got ${String(e)}`);
        assert.equal((e as VerificationError).code, code, (e as Error).message);
        return true;
      });
    }

    /** What @sigstore/verify does not check for a v2 entry, checked independently of src/. */
    function checkSkipped(json: any, kind: string): void {
      const [entry] = json.verificationMaterial.tlogEntries;
      assert.deepEqual(entry.kindVersion, { kind, version: '0.0.2' });
      assert.equal(entry.inclusionPromise, undefined, 'no SET on v2');
      assert.ok(entry.integratedTime === undefined || entry.integratedTime === '0', 'no integrated time');
      const v2LogId = rekorV2LogIdOf(server.ctx.key, server.ctx.hostname);
      assert.equal(entry.logId.keyId, v2LogId.toString('base64'), 'logId = the v2 log ID');
      // Protobuf JSON leaves out defaults: index "0" and an empty proof are absent.
      const ip = { logIndex: '0', hashes: [], ...entry.inclusionProof };
      const cp = verifyCheckpointNote(ip.checkpoint.envelope, server.ctx.key, server.ctx.hostname);
      assert.equal(cp.origin, `${server.ctx.hostname} - ${server.ctx.treeId}`);
      assert.equal(entry.logIndex ?? '0', ip.logIndex);
      assert.equal(Number(ip.treeSize), cp.size);
      assert.equal(Buffer.from(ip.rootHash, 'base64').toString('hex'), cp.rootHash.toString('hex'));
      const body = Buffer.from(entry.canonicalizedBody, 'base64');
      const hashes = ip.hashes.map((h: string) => Buffer.from(h, 'base64'));
      verifyInclusion(leafHashOf(body), Number(ip.logIndex), cp.size, hashes, cp.rootHash);
      assert.equal(JSON.parse(body.toString()).kind, kind);
    }

    test('message signatures (hashedrekord 0.0.2) verify, at several tree sizes', async () => {
      const builder = new MessageSignatureBundleBuilder({ signer: signer(), witnesses: [witness()] });
      for (let i = 0; i < 5; i++) {
        const artifact = randomBytes(64 + i);
        const json = bundleToJSON(await builder.create({ data: artifact })) as any;
        verifyBundle(json, artifact);
        checkSkipped(json, 'hashedrekord');
        const stored = JSON.parse(
          Buffer.from(json.verificationMaterial.tlogEntries[0].canonicalizedBody, 'base64').toString(),
        ).spec.hashedRekordV002;
        // sigstore-js put the SPKI in x509Certificate; the body names it a public key.
        assert.deepEqual(stored.signature.verifier, {
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          publicKey: { rawBytes: artifactKey.der.toString('base64') },
        });
        made.push({ json, artifact });
      }
    });

    test('DSSE envelopes (dsse 0.0.2) verify; only hashes are stored', async () => {
      const builder = new DSSEBundleBuilder({ signer: signer(), witnesses: [witness()] });
      for (let i = 0; i < 3; i++) {
        const payload = Buffer.from(
          JSON.stringify({
            _type: 'https://in-toto.io/Statement/v1',
            n: i,
            r: randomBytes(8).toString('hex'),
          }),
        );
        const json = bundleToJSON(
          await builder.create({ data: payload, type: 'application/vnd.in-toto+json' }),
        ) as any;
        verifyBundle(json);
        checkSkipped(json, 'dsse');
        const body = Buffer.from(
          json.verificationMaterial.tlogEntries[0].canonicalizedBody,
          'base64',
        ).toString();
        assert.ok(!body.includes(payload.toString('base64')), 'payload not in the body');
        assert.equal(
          JSON.parse(body).spec.dsseV002.payloadHash.digest,
          createHash('sha256').update(payload).digest('base64'),
        );
        made.push({ json });
      }
    });

    test('earlier bundles still verify after further appends; one tree behind v1 and v2', async () => {
      for (const { json, artifact } of made) verifyBundle(json, artifact);
      const sizes = new Set(
        made.map(
          (m) =>
            parseCheckpointNote(m.json.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope)
              .size,
        ),
      );
      assert.ok(sizes.size >= 5, `proofs against ${sizes.size} distinct tree sizes`);
      // A v1 entry lands in the same tree, right after the v2 ones, and the v1 tree head agrees.
      const v1 = new RekorWitness({ rekorBaseURL: server.url, retry: 0, timeout: 20_000 });
      const artifact = randomBytes(32);
      const v1json = bundleToJSON(
        await new MessageSignatureBundleBuilder({ signer: signer(), witnesses: [v1] }).create({
          data: artifact,
        }),
      ) as any;
      assert.equal(Number(v1json.verificationMaterial.tlogEntries[0].logIndex), made.length);
      const info = (await http(`${server.url}/api/v1/log`)).json;
      const cp = parseCheckpointNote(info.signedTreeHead);
      assert.equal(info.treeSize, made.length + 1);
      assert.equal(cp.rootHash.toString('hex'), info.rootHash);
    });

    test('tampered bundles are rejected', () => {
      const { json, artifact } = made[made.length - 4]!; // the last message signature: a proof with hashes
      assert.ok(json.verificationMaterial.tlogEntries[0].inclusionProof.hashes.length > 0);
      const clone = () => JSON.parse(JSON.stringify(json));
      const entryOf = (t: any) => t.verificationMaterial.tlogEntries[0];

      let t = clone();
      const body = Buffer.from(entryOf(t).canonicalizedBody, 'base64');
      body[body.length - 5] ^= 1;
      entryOf(t).canonicalizedBody = body.toString('base64');
      expectCode(() => verifyBundle(t, artifact), 'TLOG_INCLUSION_PROOF_ERROR');

      t = clone();
      const h = Buffer.from(entryOf(t).inclusionProof.hashes[0], 'base64');
      h[0] ^= 1;
      entryOf(t).inclusionProof.hashes[0] = h.toString('base64');
      expectCode(() => verifyBundle(t, artifact), 'TLOG_INCLUSION_PROOF_ERROR');

      t = clone();
      entryOf(t).inclusionProof.logIndex = String(Number(entryOf(t).inclusionProof.logIndex) + 1);
      expectCode(() => verifyBundle(t, artifact), 'TLOG_INCLUSION_PROOF_ERROR');

      t = clone();
      const env: string = entryOf(t).inclusionProof.checkpoint.envelope;
      const lines = env.split('\n');
      const root = Buffer.from(lines[2]!, 'base64');
      root[0] ^= 1;
      lines[2] = root.toString('base64');
      entryOf(t).inclusionProof.checkpoint.envelope = lines.join('\n');
      expectCode(() => verifyBundle(t, artifact), 'TLOG_INCLUSION_PROOF_ERROR');

      t = clone();
      t.messageSignature.signature = Buffer.alloc(70, 1).toString('base64');
      assert.throws(() => verifyBundle(t, artifact), VerificationError);

      expectCode(() => verifyBundle(clone(), Buffer.from('other artifact')), 'SIGNATURE_ERROR');

      t = clone();
      t.verificationMaterial.tlogEntries = [];
      expectCode(() => verifyBundle(t, artifact), 'TLOG_ERROR');

      // A different log key in the trusted root: the checkpoint signature no longer verifies.
      const other = logKeyFromPem(
        (logKeyType === 'Ed25519'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('ec', { namedCurve: 'P-256' })
        ).publicKey.export({ type: 'spki', format: 'pem' }) as string,
      );
      expectCode(() => verifyBundle(clone(), artifact, trustedRoot(other)), 'TLOG_INCLUSION_PROOF_ERROR');
    });

    test('v2 entries are found by the v1 index search and GET by UUID', async () => {
      const { json, artifact } = made[1]!;
      const body = Buffer.from(json.verificationMaterial.tlogEntries[0].canonicalizedBody, 'base64');
      const uuid = `${BigInt.asUintN(64, BigInt(server.ctx.treeId)).toString(16).padStart(16, '0')}${leafHashOf(body).toString('hex')}`;
      const byHash = await postJson(`${server.url}/api/v1/index/retrieve`, {
        hash: `sha256:${createHash('sha256').update(artifact!).digest('hex')}`,
      });
      assert.equal(byHash.status, 200, byHash.text);
      assert.deepEqual(byHash.json, [uuid]);
      const byKey = await postJson(`${server.url}/api/v1/index/retrieve`, {
        publicKey: { format: 'x509', content: Buffer.from(artifactKey.pem).toString('base64') },
      });
      // Every v2 entry (message signatures and DSSE) signed by this key, plus the v1 one.
      assert.equal(byKey.json.length, made.length + 1);
      assert.ok(byKey.json.includes(uuid));
      const got = await http(`${server.url}/api/v1/log/entries/${uuid}`);
      assert.equal(got.status, 200);
      assert.equal(got.json[uuid].body, body.toString('base64'));
      assert.equal(got.json[uuid].logIndex, Number(json.verificationMaterial.tlogEntries[0].logIndex));
    });

    test('a certificate verifier entry is found by the certificate email and the certificate', async () => {
      const email = `dev-${randomBytes(4).toString('hex')}@example.com`;
      const cert = buildCertificate({ sans: [{ email }] });
      const data = randomBytes(24);
      const r = await postJson(`${server.url}/api/v2/log/entries`, {
        hashedRekordRequestV002: {
          digest: createHash('sha256').update(data).digest('base64'),
          signature: {
            content: cryptoSign('sha256', data, cert.keys.privateKey).toString('base64'),
            verifier: {
              x509Certificate: { rawBytes: cert.der.toString('base64') },
              keyDetails: 'PKIX_ECDSA_P256_SHA_256',
            },
          },
        },
      });
      assert.equal(r.status, 201, r.text);
      const stored = JSON.parse(Buffer.from(r.json.canonicalizedBody, 'base64').toString()).spec
        .hashedRekordV002;
      assert.equal(stored.signature.verifier.x509Certificate.rawBytes, cert.der.toString('base64'));
      const uuid = `${BigInt.asUintN(64, BigInt(server.ctx.treeId)).toString(16).padStart(16, '0')}${leafHashOf(Buffer.from(r.json.canonicalizedBody, 'base64')).toString('hex')}`;
      assert.deepEqual((await postJson(`${server.url}/api/v1/index/retrieve`, { email })).json, [uuid]);
      const byCert = await postJson(`${server.url}/api/v1/index/retrieve`, {
        publicKey: { format: 'x509', content: Buffer.from(cert.pem).toString('base64') },
      });
      assert.deepEqual(byCert.json, [uuid]);
      made.push({ json: { verificationMaterial: { tlogEntries: [r.json] } } });
    });

    test('an Ed25519 artifact key (sent with the P-256 label): DSSE verifies, a message signature is refused', async () => {
      const ed = generateKeyPairSync('ed25519');
      const edPem = ed.publicKey.export({ type: 'spki', format: 'pem' }) as string;
      const edSigner: Signer = {
        async sign(data: Buffer) {
          return {
            signature: cryptoSign(null, data, ed.privateKey),
            key: { $case: 'publicKey', publicKey: edPem, hint: 'ed-hint' },
          };
        },
      };
      const payload = Buffer.from(
        JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', r: randomBytes(8).toString('hex') }),
      );
      const json = bundleToJSON(
        await new DSSEBundleBuilder({ signer: edSigner, witnesses: [witness()] }).create({
          data: payload,
          type: 'application/vnd.in-toto+json',
        }),
      ) as any;
      const material = toTrustMaterial(trustedRoot(), {
        'ed-hint': {
          rawBytes: ed.publicKey.export({ type: 'spki', format: 'der' }),
          keyDetails: PublicKeyDetails.PKIX_ED25519,
          validFor: { start: new Date(0) },
        },
      });
      new Verifier(material, { timestampThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(json)));
      checkSkipped(json, 'dsse');
      const verifier = JSON.parse(
        Buffer.from(json.verificationMaterial.tlogEntries[0].canonicalizedBody, 'base64').toString(),
      ).spec.dsseV002.signatures[0].verifier;
      assert.equal(verifier.keyDetails, 'PKIX_ED25519_PH', 'the body names the real key type');
      // A pure Ed25519 signature cannot be checked over a SHA-256 digest: 400, surfaced by sign.
      await assert.rejects(
        new MessageSignatureBundleBuilder({ signer: edSigner, witnesses: [witness()] }).create({
          data: randomBytes(16),
        }),
        (e: any) =>
          e.code === 'TLOG_CREATE_ENTRY_ERROR' &&
          /\(400\) digest length \(32\)/.test(e.message + String(e.cause?.message)),
      );
    });
  });
}
