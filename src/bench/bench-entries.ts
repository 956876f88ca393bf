/**
 * Pre-signed, distinct write requests for the benches and the load tests: a few artifact keys, a
 * fresh random artifact digest per entry, so that every request is a new entry for the log.
 */
import { createHash, generateKeyPairSync, KeyObject, randomBytes, sign } from 'node:crypto';

/** Distinct hashedrekord submissions: a few keys, a fresh random artifact digest per entry. */
export function makeHashedrekords(count: number, keys: number): Buffer[] {
  const signers: { key: KeyObject; pemB64: string }[] = [];
  for (let i = 0; i < keys; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    signers.push({ key: privateKey, pemB64: Buffer.from(pem).toString('base64') });
  }
  const out: Buffer[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const s = signers[i % keys];
    // ECDSA via node:crypto hashes its input, so sign the artifact and log SHA-256(artifact).
    const artifact = randomBytes(32);
    const digest = createHash('sha256').update(artifact).digest('hex');
    const sig = sign('sha256', artifact, s.key).toString('base64');
    out[i] = Buffer.from(
      `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"${digest}"}},` +
        `"signature":{"content":"${sig}","publicKey":{"content":"${s.pemB64}"}}}}`,
    );
  }
  return out;
}

/** Distinct Rekor v2 hashedRekordRequestV002 submissions, the form sigstore-js sends. */
export function makeV2HashedRekords(count: number, keys: number): Buffer[] {
  const signers: { key: KeyObject; spkiB64: string }[] = [];
  for (let i = 0; i < keys; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    signers.push({
      key: privateKey,
      spkiB64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    });
  }
  const out: Buffer[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const s = signers[i % keys];
    const artifact = randomBytes(32);
    const digest = createHash('sha256').update(artifact).digest('base64');
    const sig = sign('sha256', artifact, s.key).toString('base64');
    out[i] = Buffer.from(
      `{"hashedRekordRequestV002":{"digest":"${digest}","signature":{"content":"${sig}",` +
        `"verifier":{"publicKey":{"rawBytes":"${s.spkiB64}"},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}`,
    );
  }
  return out;
}
