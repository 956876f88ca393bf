/**
 * The production SignatureVerifier: OpenSSL wherever it can do the job.
 *
 *   digest (hashedrekord)  ECDSA, RSA  -> native addon (EVP_PKEY_verify over the digest)
 *                          Ed25519ph   -> @noble/curves (no OpenSSL path on Node 20)
 *   message (DSSE PAE)     ECDSA, RSA  -> SHA-256 of the message, then the same native digest
 *                                         path (identical semantics: both sign SHA-256(PAE))
 *                          Ed25519     -> node:crypto (pure Ed25519 needs the whole message)
 *
 * Keys reach OpenSSL through EVP_PKEY_fromdata from the components pki.ts already parsed, not
 * through a DER decoder: OpenSSL 3.0's decoders cost more than the signature check, and Fulcio
 * hands out a fresh key for every signature, so that cost would be paid on every entry.
 *
 * ECDSA signatures are normalized first with the same helper the reference uses, so "what counts
 * as DER, what counts as P1363, what can never verify" is decided in one place and the two
 * verifiers cannot drift on encoding questions; test/crypto cross-checks the rest.
 *
 * Without the addon (see native.ts) digests fall back to the reference verifier and messages to
 * node:crypto: slower, same answers.
 */
import { constants, createHash, verify as cryptoVerify } from 'node:crypto';
import type { ArtifactKey } from '../core/x509';
import {
  DIGEST_LENGTH,
  ecdsaSignatureToDer,
  referenceVerifier,
  verifyEd25519ph,
  type DigestAlgorithm,
  type SignatureVerifier,
} from '../core/entries/verifier';
import { loadDigestAddon, type DigestAddon, type NativeKeyHandle } from './native';

export interface FastVerifierOptions {
  /** Parsed OpenSSL keys kept per verifier, keyed by SPKI DER (long-lived signing keys repeat). */
  readonly keyCacheSize?: number;
  /** Inject an addon (tests); `null` forces the pure-JS digest path. Default: loadDigestAddon(). */
  readonly addon?: DigestAddon | null;
}

/** A small LRU: Map iteration order is insertion order, so the first key is the oldest. */
class KeyCache {
  private readonly map = new Map<string, NativeKeyHandle | null>();
  constructor(private readonly capacity: number) {}

  get(addon: DigestAddon, key: ArtifactKey): NativeKeyHandle | null {
    const id = key.spki.toString('latin1');
    const hit = this.map.get(id);
    if (hit !== undefined) {
      this.map.delete(id);
      this.map.set(id, hit);
      return hit;
    }
    const handle =
      key.algorithm === 'ecdsa'
        ? addon.parseEcKey(key.curve!, key.publicBytes)
        : key.algorithm === 'rsa'
          ? addon.parseRsaKey(key.publicBytes, key.rsaExponent!)
          : null;
    this.map.set(id, handle);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
    return handle;
  }
}

export function createFastVerifier(options: FastVerifierOptions = {}): SignatureVerifier {
  const addon = options.addon === undefined ? loadDigestAddon() : options.addon;
  const cache = new KeyCache(Math.max(1, options.keyCacheSize ?? 256));

  function nativeDigest(key: ArtifactKey, hash: DigestAlgorithm, digest: Buffer, sig: Buffer): boolean {
    const handle = cache.get(addon!, key);
    return handle !== null && addon!.verifyDigest(handle, digest, sig, hash);
  }

  return {
    verifyDigest(key, hash, digest, signature) {
      if (!Object.prototype.hasOwnProperty.call(DIGEST_LENGTH, hash) || digest.length !== DIGEST_LENGTH[hash])
        return false;
      switch (key.algorithm) {
        case 'ed25519':
          return hash === 'sha512' && verifyEd25519ph(key.publicBytes, digest, signature);
        case 'ecdsa': {
          if (addon === null) return referenceVerifier.verifyDigest(key, hash, digest, signature);
          const der = ecdsaSignatureToDer(signature);
          return der !== null && nativeDigest(key, hash, digest, der);
        }
        case 'rsa':
          if (addon === null) return referenceVerifier.verifyDigest(key, hash, digest, signature);
          return nativeDigest(key, hash, digest, signature);
        default:
          return false;
      }
    },

    verifyMessage(key, message, signature) {
      if (addon !== null && (key.algorithm === 'ecdsa' || key.algorithm === 'rsa')) {
        const digest = createHash('sha256').update(message).digest();
        if (key.algorithm === 'rsa') return nativeDigest(key, 'sha256', digest, signature);
        const der = ecdsaSignatureToDer(signature);
        return der !== null && nativeDigest(key, 'sha256', digest, der);
      }
      try {
        switch (key.algorithm) {
          case 'ecdsa': {
            const der = ecdsaSignatureToDer(signature);
            return (
              der !== null && cryptoVerify('sha256', message, { key: key.keyObject, dsaEncoding: 'der' }, der)
            );
          }
          case 'rsa':
            return cryptoVerify(
              'sha256',
              message,
              { key: key.keyObject, padding: constants.RSA_PKCS1_PADDING },
              signature,
            );
          case 'ed25519':
            return cryptoVerify(null, message, key.keyObject, signature);
          default:
            return false;
        }
      } catch {
        // node:crypto throws for some malformed inputs (e.g. impossible lengths): a rejection.
        return false;
      }
    },
  };
}
