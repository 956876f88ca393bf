/**
 * Trust files against a running Vellum, for a P-256 and an Ed25519 log key: `vellum trust-root`
 * and `vellum signing-config` print what the read endpoints serve; @sigstore/verify 3.x loads the
 * printed TrustedRoot (nothing built in the test) and verifies bundles @sigstore/sign made through
 * the v1 API; the checkpoint opens under the vkeys from /checkpoint.vkeys.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { PublicKeyDetails, SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, RekorWitness, type Signer } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, VerificationError, Verifier } from '@sigstore/verify';
import { openNote, parseSignedNote, parseVerifierKey } from '../../src/core/note';
import { newP256Key, type TestKey } from './fixtures';
import { CLI_MAIN, http, startTestServer, tempDir, type TestServer } from '../support/server';
import { logKeyFromPem } from '../support/verifier';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function vellum(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const HINT = 'trust-files-test-key';
process.env.NO_PROXY = '127.0.0.1,localhost';
process.env.no_proxy = '127.0.0.1,localhost';

for (const algorithm of ['ecdsa-p256', 'ed25519'] as const) {
  describe(`trust files for a ${algorithm} log key`, () => {
    let server: TestServer;
    let dir: string;
    let artifactKey: TestKey;
    let rootJson: any;

    before(async () => {
      dir = tempDir('vellum-trust-');
      const env: Record<string, string> = {};
      if (algorithm === 'ed25519') {
        const keyPath = join(dir, 'ed25519-log-key.pem');
        const { privateKey } = generateKeyPairSync('ed25519');
        writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
        env.SIGNING_KEY_PATH = keyPath;
      }
      server = await startTestServer({ env });
      artifactKey = newP256Key();
    });
    after(async () => {
      await server?.dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    const signer: Signer = {
      async sign(data: Buffer) {
        const signature = cryptoSign('sha256', data, artifactKey.privateKey);
        return { signature, key: { $case: 'publicKey', publicKey: artifactKey.pem, hint: HINT } };
      },
    };
    const witness = () => new RekorWitness({ rekorBaseURL: server.url, retry: 0, timeout: 15_000 });

    function verify(bundleJson: unknown, artifact: Buffer | undefined, root: unknown): void {
      const material = toTrustMaterial(TrustedRoot.fromJSON(root), {
        [HINT]: {
          rawBytes: artifactKey.der,
          keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
          validFor: { start: new Date(0) },
        },
      });
      new Verifier(material).verify(toSignedEntity(bundleFromJSON(bundleJson), artifact));
    }

    test("vellum trust-root prints the TrustedRoot the endpoint serves, with this log's IDs and key", async () => {
      const out = join(dir, 'trusted_root.json');
      const run = await vellum(['trust-root', '--server', `${server.url}/`, '--out', out]);
      assert.equal(run.code, 0, run.stderr);
      rootJson = JSON.parse(readFileSync(out, 'utf8'));
      const served = await http(`${server.url}/api/v1/trustedRoot`);
      assert.equal(served.status, 200);
      assert.match(served.headers.get('cache-control') ?? '', /public, max-age=\d+/);
      assert.deepEqual(served.json, rootJson);
      const stdout = await vellum(['trust-root', '--server', server.url]);
      assert.equal(stdout.code, 0, stdout.stderr);
      assert.deepEqual(JSON.parse(stdout.stdout), rootJson);

      const key = logKeyFromPem(server.publicKeyPem);
      assert.equal(rootJson.mediaType, 'application/vnd.dev.sigstore.trustedroot+json;version=0.1');
      const spkiHash = createHash('sha256').update(key.der).digest('base64');
      const v2Id = createHash('sha256')
        .update(
          Buffer.concat([
            Buffer.from(`${server.ctx.hostname}\n`),
            Buffer.from([0x01]),
            key.der.subarray(-32),
          ]),
        )
        .digest('base64');
      const ids = rootJson.tlogs.map((t: any) => t.logId.keyId);
      assert.deepEqual(ids, algorithm === 'ed25519' ? [spkiHash, v2Id] : [spkiHash]);
      for (const t of rootJson.tlogs) {
        assert.equal(t.baseUrl, server.url);
        assert.ok(t.baseUrl.includes(server.ctx.hostname));
        assert.equal(t.hashAlgorithm, 'SHA2_256');
        assert.equal(t.publicKey.rawBytes, key.der.toString('base64'));
        assert.equal(
          t.publicKey.keyDetails,
          algorithm === 'ed25519' ? 'PKIX_ED25519' : 'PKIX_ECDSA_P256_SHA_256',
        );
        // The log's creation: before this test's entries, and not long before the server started.
        const start = Date.parse(t.publicKey.validFor.start);
        assert.ok(start <= Date.now() && start > Date.now() - 120_000, t.publicKey.validFor.start);
      }
      assert.deepEqual(
        [rootJson.certificateAuthorities, rootJson.ctlogs, rootJson.timestampAuthorities],
        [[], [], []],
      );
    });

    test('@sigstore/verify loads the printed TrustedRoot and verifies v1 hashedrekord and DSSE bundles', async () => {
      const artifact = randomBytes(80);
      const msg = bundleToJSON(
        await new MessageSignatureBundleBuilder({ signer, witnesses: [witness()] }).create({
          data: artifact,
        }),
      ) as any;
      verify(msg, artifact, rootJson);
      const payload = Buffer.from(
        JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', r: randomBytes(4).toString('hex') }),
      );
      const dsse = bundleToJSON(
        await new DSSEBundleBuilder({ signer, witnesses: [witness()] }).create({
          data: payload,
          type: 'application/vnd.in-toto+json',
        }),
      ) as any;
      verify(dsse, undefined, rootJson);

      const envelope: string = msg.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope;
      assert.equal(
        parseSignedNote(envelope).signatures.length,
        2,
        'the bundle checkpoint carries both lines',
      );

      const fails = (root: unknown, code: string) =>
        assert.throws(
          () => verify(msg, artifact, root),
          (e: unknown) => e instanceof VerificationError && e.code === code,
        );
      const otherKey = newP256Key().der.toString('base64');
      const wrongKey = {
        ...rootJson,
        tlogs: rootJson.tlogs.map((t: any) => ({ ...t, publicKey: { ...t.publicKey, rawBytes: otherKey } })),
      };
      fails(wrongKey, 'TLOG_INCLUSION_PROMISE_ERROR');
      // Without the v1-face entry, the SET (which names SHA-256(SPKI)) has no authority.
      fails({ ...rootJson, tlogs: rootJson.tlogs.slice(1) }, 'TLOG_INCLUSION_PROMISE_ERROR');
      const later = {
        ...rootJson,
        tlogs: rootJson.tlogs.map((t: any) => ({
          ...t,
          publicKey: { ...t.publicKey, validFor: { start: '2999-01-01T00:00:00Z' } },
        })),
      };
      fails(later, 'TLOG_INCLUSION_PROMISE_ERROR');
    });

    test('the checkpoint opens under the vkeys of /checkpoint.vkeys, each alone', async () => {
      const res = await http(`${server.url}/checkpoint.vkeys`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const vkeys = res.text.trimEnd().split('\n').map(parseVerifierKey);
      assert.deepEqual(
        vkeys.map((v) => v.type),
        algorithm === 'ed25519' ? [0x01] : [0x02, 0x01],
      );
      for (const v of vkeys) assert.equal(v.name, server.ctx.hostname);
      const cp = (await http(`${server.url}/checkpoint`)).text;
      const info = (await http(`${server.url}/api/v1/log`)).json;
      assert.equal(cp, info.signedTreeHead, '/checkpoint and the v1 signedTreeHead are the same bytes');
      for (const v of vkeys) assert.equal(openNote(cp, [v]).verifiedBy.length, 1);
      // Rekor v2 clients take the key hint from the v2 log ID: the C2SP 0x01 line for an Ed25519
      // log, the SPKI-hash (0x02) line for an ECDSA one.
      const v2 = Buffer.from(rootJson.tlogs[rootJson.tlogs.length - 1].logId.keyId, 'base64');
      const hinted = vkeys.filter((v) => v.keyId === v2.readUInt32BE(0));
      assert.deepEqual(
        hinted.map((v) => v.type),
        [algorithm === 'ed25519' ? 0x01 : 0x02],
      );
    });

    test('vellum signing-config prints the SigningConfig v0.2 the endpoint serves', async () => {
      const run = await vellum([
        'signing-config',
        '--server',
        server.url,
        '--tsa-url',
        'https://tsa.example/api/v1/timestamp',
      ]);
      assert.equal(run.code, 0, run.stderr);
      const sc = JSON.parse(run.stdout);
      const served = await http(`${server.url}/api/v1/signingConfig`);
      assert.equal(served.status, 200);
      assert.deepEqual({ ...served.json, tsaUrls: sc.tsaUrls, tsaConfig: sc.tsaConfig }, sc);
      assert.equal(sc.mediaType, 'application/vnd.dev.sigstore.signingconfig.v0.2+json');
      assert.deepEqual(
        sc.rekorTlogUrls.map((s: any) => [s.url, s.majorApiVersion, s.operator]),
        [
          [server.url, 2, '127.0.0.1'],
          [server.url, 1, '127.0.0.1'],
        ],
      );
      assert.equal(sc.rekorTlogUrls[0].validFor.start, rootJson.tlogs[0].publicKey.validFor.start);
      assert.deepEqual(sc.rekorTlogConfig, { selector: 'ANY' });
      assert.deepEqual(
        sc.tsaUrls.map((s: any) => s.url),
        ['https://tsa.example/api/v1/timestamp'],
      );
      const v1Only = await vellum(['signing-config', '--server', server.url, '--rekor-api', '1']);
      assert.equal(v1Only.code, 0, v1Only.stderr);
      assert.deepEqual(
        JSON.parse(v1Only.stdout).rekorTlogUrls.map((s: any) => s.majorApiVersion),
        [1],
      );
      const parsed = SigningConfig.fromJSON(sc);
      assert.equal(parsed.rekorTlogUrls.length, 2);
      assert.equal(parsed.tsaUrls[0]!.operator, 'tsa.example');
    });
  });
}

describe('trust CLI errors', () => {
  test('no --server is a usage error (2); an unreachable server fails (3, worth a retry); a bad chain file is a usage error', async () => {
    const badApi = await vellum(['signing-config', '--server', 'http://127.0.0.1:9', '--rekor-api', '3']);
    assert.equal(badApi.code, 2);
    assert.match(badApi.stderr, /--rekor-api must be 1 or 2/);
    const none = await vellum(['trust-root']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--server URL is required/);
    const down = await vellum(['signing-config', '--server', 'http://127.0.0.1:9']);
    assert.equal(down.code, 3);
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
    const dir = tempDir('vellum-trust-cli-');
    try {
      const notPem = join(dir, 'root.pem');
      writeFileSync(notPem, 'not a certificate\n');
      const bad = await vellum(['trust-root', '--server', 'http://127.0.0.1:9', '--fulcio-root', notPem]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--fulcio-root/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
