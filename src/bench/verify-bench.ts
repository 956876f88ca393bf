/**
 * Single-core signature verification throughput for a P-256 hashedrekord, by path:
 *   addon, key cached    the fast verifier as the API uses it (LRU hit: long-lived keys)
 *   addon, fromdata      key imported on every call (Fulcio: every entry brings a new key)
 *   addon, d2i_PUBKEY    key decoded from DER on every call (OpenSSL 3.0's slow decoder path)
 *   noble                the pure-JS reference (@noble/curves, prehash: false)
 *   node:crypto message  crypto.verify over the full message (what DSSE/intoto can use; NOT an
 *                        option for hashedrekord, which only carries the digest)
 * plus whole-entry prepareEntry() costs (parse + verify + canonicalize + leaf hash).
 *
 * Run: npm run build && node dist/src/bench/verify-bench.js [seconds-per-row]
 */
import { createHash, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { createFastVerifier } from '../crypto/fast-verifier';
import { loadDigestAddon } from '../crypto/native';
import { referenceVerifier } from '../core/entries/verifier';
import { parseSpki } from '../core/x509';
import { prepareEntry } from '../core/entries';

const SECONDS = Number(process.argv[2] ?? 1);

function measure(
  name: string,
  fn: (i: number) => boolean,
): { name: string; perSecond: number; usPerOp: number } {
  for (let i = 0; i < 50; i++) if (!fn(i)) throw new Error(`${name}: verification failed during warm-up`);
  let ops = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(SECONDS * 1e9));
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let k = 0; k < 20; k++) if (!fn(ops++)) throw new Error(`${name}: verification failed`);
    elapsed = process.hrtime.bigint() - start;
  }
  const secs = Number(elapsed) / 1e9;
  return { name, perSecond: ops / secs, usPerOp: (secs * 1e6) / ops };
}

function main(): void {
  const N = 64;
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const key = parseSpki(spki);
  const messages = Array.from({ length: N }, () => randomBytes(64));
  const digests = messages.map((m) => createHash('sha256').update(m).digest());
  const sigs = messages.map((m) => sign('sha256', m, privateKey));

  const addon = loadDigestAddon();
  const fast = createFastVerifier();
  const rows = [];
  if (addon !== null) {
    rows.push(
      measure('addon, key cached (fast verifier)', (i) =>
        fast.verifyDigest(key, 'sha256', digests[i % N]!, sigs[i % N]!),
      ),
    );
    rows.push(
      measure('addon, fromdata import per call', (i) =>
        addon.verifyDigest(
          addon.parseEcKey('P-256', key.publicBytes)!,
          digests[i % N]!,
          sigs[i % N]!,
          'sha256',
        ),
      ),
    );
    rows.push(
      measure('addon, d2i_PUBKEY per call', (i) =>
        addon.verifyDigest(addon.parseKey(spki)!, digests[i % N]!, sigs[i % N]!, 'sha256'),
      ),
    );
  } else {
    console.log('native addon unavailable: addon rows skipped (npm run build:native)');
  }
  rows.push(
    measure('noble (reference)', (i) =>
      referenceVerifier.verifyDigest(key, 'sha256', digests[i % N]!, sigs[i % N]!),
    ),
  );
  rows.push(
    measure('node:crypto, full message', (i) => verify('sha256', messages[i % N]!, publicKey, sigs[i % N]!)),
  );

  // Whole entries: a bare key and a fresh key per entry (the Fulcio case: no cache hits).
  const entry = (pub: typeof publicKey, priv: typeof privateKey, m: Buffer): Record<string, unknown> => ({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(m).digest('hex') } },
      signature: {
        content: sign('sha256', m, priv).toString('base64'),
        publicKey: { content: Buffer.from(pub.export({ type: 'spki', format: 'pem' })).toString('base64') },
      },
    },
  });
  const sameKey = messages.map((m) => entry(publicKey, privateKey, m));
  const freshKeys = messages.map((m) => {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return entry(k.publicKey, k.privateKey, m);
  });
  // A one-slot cache over 64 rotating keys: every entry misses, as with Fulcio certificates.
  const noCache = createFastVerifier({ keyCacheSize: 1 });
  rows.push(
    measure(
      'prepareEntry, fast verifier, same key',
      (i) => prepareEntry(sameKey[i % N], fast).body.length > 0,
    ),
  );
  rows.push(
    measure(
      'prepareEntry, fast verifier, fresh keys',
      (i) => prepareEntry(freshKeys[i % N], noCache).body.length > 0,
    ),
  );
  rows.push(
    measure(
      'prepareEntry, reference verifier',
      (i) => prepareEntry(freshKeys[i % N], referenceVerifier).body.length > 0,
    ),
  );

  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(
    `P-256 hashedrekord verification, single core, Node ${process.version}, ${addon?.opensslVersion() ?? 'no addon'}`,
  );
  console.log(`${'path'.padEnd(w)}  ${'verifies/s'.padStart(10)}  ${'µs/op'.padStart(8)}`);
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(w)}  ${Math.round(r.perSecond).toString().padStart(10)}  ${r.usPerOp.toFixed(1).padStart(8)}`,
    );
  }
}

main();
