/**
 * `vellum verify --offline`: the evidence an entry carries, checked with no network at all (no
 * --log, and the server stopped before the checks run): a saved v1 LogEntry, the C2SP tlog-proof
 * `--write-proof` made of it (with witness cosignatures added by keys made here), and Sigstore
 * bundles that sigstore-js made through the v1 and the v2 API.
 */
import assert from 'node:assert/strict';
import { sign as cryptoSign } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bundleToJSON } from '@sigstore/bundle';
import { MessageSignatureBundleBuilder, RekorWitness, type Signer } from '@sigstore/sign';
import { LogSigningKey } from '../../src/core/keys';
import { ed25519CosignatureSigner, formatVerifierKey, NOTE_KEY_TYPE } from '../../src/core/note';
import { hashedrekord, newP256Key } from './fixtures';
import { runVellum } from '../monitor/follow-fixture';
import { postJson, startTestServer, tempDir } from '../support/server';

const dir = tempDir('vellum-offline-');
const f = (name: string) => join(dir, name);

/** Appends a cosignature line by a fresh witness key to the checkpoint that ends `proofText`. */
function cosign(proofText: string, name: string): { text: string; vkey: string } {
  const key = LogSigningKey.generate('ed25519');
  const split = proofText.lastIndexOf('\n\n');
  const checkpointText = proofText.slice(proofText.indexOf('\n\n') + 2, split + 1);
  const s = ed25519CosignatureSigner(name, key, 1_767_139_200);
  const sig = Buffer.concat([Buffer.alloc(4), s.sign(Buffer.from(checkpointText))]);
  sig.writeUInt32BE(s.keyId, 0);
  return {
    text: `${proofText}\u2014 ${name} ${sig.toString('base64')}\n`,
    vkey: formatVerifierKey(name, NOTE_KEY_TYPE.cosignatureV1, key.publicKey.raw),
  };
}

describe('vellum verify --offline', () => {
  let bodyB64 = '';
  before(async () => {
    const server = await startTestServer();
    try {
      writeFileSync(f('log.pem'), server.publicKeyPem);
      const key = newP256Key();
      let saved: unknown;
      for (let i = 0; i < 6; i++) {
        const r = await postJson(`${server.url}/api/v1/log/entries`, hashedrekord(key).proposed);
        assert.equal(r.status, 201);
        if (i === 3) saved = r.json;
      }
      writeFileSync(f('entry.json'), JSON.stringify(saved));
      bodyB64 = (Object.values(saved as object)[0] as { body: string }).body;
      writeFileSync(f('body'), Buffer.from(bodyB64, 'base64'));
      const signer: Signer = {
        sign: async (data: Buffer) => ({
          signature: cryptoSign('sha256', data, key.privateKey),
          key: { $case: 'publicKey', publicKey: key.pem, hint: 'k' },
        }),
      };
      for (const major of [1, 2] as const) {
        const witness = new RekorWitness({ rekorBaseURL: server.url, majorApiVersion: major, retry: 0 });
        const b = await new MessageSignatureBundleBuilder({ signer, witnesses: [witness] }).create({
          data: Buffer.from(`artifact v${major}`),
        });
        writeFileSync(f(`bundle-v${major}.json`), JSON.stringify(bundleToJSON(b)));
      }
    } finally {
      await server.dispose();
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const verify = (...args: string[]) =>
    runVellum(['verify', '--offline', '--public-key', f('log.pem'), ...args]);

  test('a saved entry verifies with no --log and the log gone, and becomes a tlog-proof', async () => {
    const r = await verify('--entry', f('entry.json'), '--write-proof', f('entry.tlog-proof'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /entry [0-9a-f]{80} OK: index 3/);
    const proof = readFileSync(f('entry.tlog-proof'), 'utf8');
    assert.match(proof, /^c2sp\.org\/tlog-proof@v1\nindex 3\n/);
    const ok = await verify('--tlog-proof', f('entry.tlog-proof'), '--leaf-data', f('body'));
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /tlog-proof OK: leaf [0-9a-f]{64} at index 3 of checkpoint .* size 4 \(/);
  });

  test('a tampered tlog-proof, another leaf or another key fails with exit 1', async () => {
    const proof = readFileSync(f('entry.tlog-proof'), 'utf8');
    writeFileSync(f('moved.tlog-proof'), proof.replace('index 3\n', 'index 2\n'));
    const moved = await verify('--tlog-proof', f('moved.tlog-proof'), '--leaf-data', f('body'));
    assert.equal(moved.code, 1);
    assert.match(moved.stderr, /verification failed: tlog-proof: .*inclusion/i);
    const other = await verify('--tlog-proof', f('entry.tlog-proof'), '--leaf-hash', 'ab'.repeat(32));
    assert.equal(other.code, 1);
    writeFileSync(f('other.pem'), LogSigningKey.generate('ecdsa-p256').publicKey.pem);
    const wrongKey = await runVellum([
      'verify',
      '--offline',
      '--public-key',
      f('other.pem'),
      '--tlog-proof',
      f('entry.tlog-proof'),
      '--leaf-data',
      f('body'),
    ]);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /checkpoint has no signature/);
    const usage = await verify('--tlog-proof', f('entry.tlog-proof'));
    assert.equal(usage.code, 2, 'a tlog-proof needs the leaf');
    assert.equal((await verify('--index', '3')).code, 2, '--offline cannot fetch an entry');
  });

  test('a witness policy: k of the listed witnesses must have cosigned', async () => {
    const a = cosign(readFileSync(f('entry.tlog-proof'), 'utf8'), 'witness-a.example');
    const b = cosign(a.text, 'witness-b.example');
    writeFileSync(f('one.tlog-proof'), a.text);
    writeFileSync(f('two.tlog-proof'), b.text);
    const args = (file: string, ...more: string[]) => [
      '--tlog-proof',
      f(file),
      '--leaf-data',
      f('body'),
      '--witness',
      a.vkey,
      '--witness',
      b.vkey,
      ...more,
    ];
    const both = await verify(...args('two.tlog-proof'));
    assert.equal(both.code, 0, both.stderr);
    assert.match(both.stdout, /cosigned by witness-a\.example, witness-b\.example \(2 of 2, quorum 2\)/);
    const short = await verify(...args('one.tlog-proof'));
    assert.equal(short.code, 1);
    assert.match(short.stderr, /cosigned by 1 of the required 2 witnesses/);
    assert.equal((await verify(...args('one.tlog-proof', '--witness-quorum', '1'))).code, 0);
    // The entry file's checkpoint carries no cosignature at all.
    const entry = await runVellum([
      'verify',
      '--offline',
      '--public-key',
      f('log.pem'),
      '--entry',
      f('entry.json'),
      '--witness',
      a.vkey,
    ]);
    assert.equal(entry.code, 1);
    assert.equal((await verify(...args('two.tlog-proof', '--witness-quorum', '3'))).code, 2);
  });

  test('sigstore-js bundles from the v1 and the v2 API verify offline; a tampered one does not', async () => {
    const v1 = await verify('--bundle', f('bundle-v1.json'));
    assert.equal(v1.code, 0, v1.stderr);
    assert.match(v1.stdout, /tlog entry 0 OK: hashedrekord 0\.0\.1, index 6, .*SET verified/);
    const v2 = await verify('--bundle', f('bundle-v2.json'));
    assert.equal(v2.code, 0, v2.stderr);
    assert.match(v2.stdout, /tlog entry 0 OK: hashedrekord 0\.0\.2, index 7, .*no SET/);
    for (const [name, mutate, why] of [
      [
        'v1 body',
        (t: any) => (t.canonicalizedBody = Buffer.from(bodyB64, 'base64').toString('base64')),
        /inclusion proof|SET/,
      ],
      [
        'v1 SET',
        (t: any) => (t.integratedTime = String(Number(t.integratedTime) + 1)),
        /signed entry timestamp/,
      ],
      [
        'v1 hash',
        (t: any) => (t.inclusionProof.hashes[0] = Buffer.alloc(32, 1).toString('base64')),
        /inclusion proof/,
      ],
    ] as const) {
      const doc = JSON.parse(readFileSync(f('bundle-v1.json'), 'utf8'));
      mutate(doc.verificationMaterial.tlogEntries[0]);
      writeFileSync(f('bad.json'), JSON.stringify(doc));
      const r = await verify('--bundle', f('bad.json'));
      assert.equal(r.code, 1, name);
      assert.match(r.stderr, why, name);
    }
  });
});
