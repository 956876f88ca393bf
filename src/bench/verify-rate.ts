import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { p256 } from '@noble/curves/p256';
import { loadDigestAddon } from '../crypto/native';

/**
 * One core's rate of the log's real per-entry signature work: an ECDSA P-256 check over a
 * precomputed SHA-256 digest (hashedrekord carries the digest, not the artifact). Measured with
 * the OpenSSL addon the server uses, or @noble/curves when the addon is not built; the benches
 * divide their entries/s by it, so a figure says how far the log is from "signature-bound".
 */
export function prehashVerifyRate(seconds: number): { perSec: number; by: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const message = Buffer.from('vellum bench: one-core prehash ECDSA P-256 verify rate');
  const digest = createHash('sha256').update(message).digest();
  const sig = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
  const addon = loadDigestAddon();
  let check: () => boolean;
  let by: string;
  if (addon !== null) {
    const handle = addon.parseKey(publicKey.export({ type: 'spki', format: 'der' }));
    if (handle === null) throw new Error('the addon refused a P-256 key');
    check = () => addon.verifyDigest(handle, digest, sig, 'sha256');
    by = `${addon.opensslVersion()}, native addon`;
  } else {
    const jwk = publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x!, 'base64url'),
      Buffer.from(jwk.y!, 'base64url'),
    ]);
    check = () => p256.verify(sig, digest, point, { prehash: false, format: 'der' });
    by = '@noble/curves (native addon not built)';
  }
  let n = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  while (performance.now() < until) {
    for (let i = 0; i < 100; i++) if (!check()) throw new Error('verify failed');
    n += 100;
  }
  return { perSec: n / ((performance.now() - t0) / 1000), by };
}
